use core::cell::UnsafeCell;

/// Global state that only thread-mode code touches: script code, the drivers
/// it calls and the event loop. Interrupt handlers never access it, so it
/// needs no lock (a lock would also be wrong here: `bs_error` abandons the
/// running code, and would leave a lock held or interrupts disabled).
pub(crate) struct ThreadCell<T>(UnsafeCell<T>);

// SAFETY: see the type's documentation; every access goes through the
// unsafe `with`, whose callers uphold it.
unsafe impl<T> Sync for ThreadCell<T> {}

impl<T> ThreadCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// Runs `f` with exclusive access to the value.
    ///
    /// # Safety
    /// Must be called from thread mode, not from inside another `with` on the
    /// same cell, and `f` must not call `bs_error` (which never returns).
    // Always inlined: it is a dereference, and a call (its closure's
    // captures in memory) cost the allocation path 1 % of the storage
    // benchmark's instructions in a development image.
    #[inline(always)]
    pub(crate) unsafe fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: exclusive by the caller's contract.
        f(unsafe { &mut *self.0.get() })
    }
}
