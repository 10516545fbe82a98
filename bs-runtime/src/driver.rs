//! What drivers use: [`Peripheral`], the place a driver keeps the
//! peripheral `main` hands it, and what `#[bluescript::export]` expands to
//! when a driver takes or returns strings (LANGUAGE.md §11): a string
//! crosses as a string object.

use crate::builtins::bs_string_new;
use crate::convert;
use crate::string;
use crate::value::Value;
use core::cell::RefCell;
use critical_section::Mutex;

/// A peripheral (a pin, a bus) that a driver owns: `main` hands it over
/// with [`Peripheral::init`] before any script runs, and the driver's
/// exported functions use it through [`Peripheral::with`], inside a
/// critical section, so that an interrupt handler sharing it never sees it
/// half-used.
pub struct Peripheral<T>(Mutex<RefCell<Option<T>>>);

impl<T> Peripheral<T> {
    /// Empty until `main` calls [`Peripheral::init`]; for a `static`.
    pub const fn new() -> Self {
        Peripheral(Mutex::new(RefCell::new(None)))
    }

    /// Hands the peripheral over (again: the old one is dropped).
    pub fn init(&self, peripheral: T) {
        critical_section::with(|cs| self.0.borrow(cs).replace(Some(peripheral)));
    }

    /// Runs `f` on the peripheral. A driver called before `main` handed it
    /// over is a bug of the firmware: it panics, and the device reports it.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        critical_section::with(|cs| {
            let mut peripheral = self.0.borrow_ref_mut(cs);
            f(peripheral
                .as_mut()
                .expect("a driver ran before `main` handed it its peripheral"))
        })
    }
}

impl<T> Default for Peripheral<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The text of the string object `v`, for a driver's `&str` parameter.
///
/// # Safety
/// `v` must be a string object (the compiler passes nothing else) that
/// stays alive while the result is used: a driver gets it for the length
/// of the call, during which the caller's stack keeps the object.
pub unsafe fn str_of(v: u32) -> &'static str {
    match convert::to_string_object(Value(v as usize)) {
        // SAFETY: string objects hold valid UTF-8.
        Ok(s) => unsafe { core::str::from_utf8_unchecked(string::bytes(s)) },
        Err(_) => "",
    }
}

/// A driver's `&str` or `String` result as a new string object (a copy).
pub fn string_result(text: &str) -> u32 {
    // SAFETY: `text` is valid UTF-8 of that length.
    unsafe { bs_string_new(text.as_ptr(), text.len(), core::ptr::null()) }.0 as u32
}
