//! `setTimeout` / `setInterval`: a fixed table of timers, served by the
//! event loop in thread mode.
//!
//! A timer calls a script function through its slot, or a closure. The
//! closures of pending timers, and of the callback running, are roots of
//! the garbage collector.

use crate::abi::SLOT_COUNT;
use crate::catch::{run_caught, runtime_error};
use crate::cell::ThreadCell;
use crate::object::{layout, Kind, Obj};
use crate::time::{reached, ticks};
use crate::value::Value;

/// Maximum number of pending timers.
pub(crate) const MAX_TIMERS: usize = 32;

/// What a timer calls.
#[derive(Clone, Copy)]
pub(crate) enum Callback {
    /// The function in this slot (`unsafe extern "C" fn()`).
    Slot(u32),
    /// A closure of type `() => void`.
    Closure(Value),
}

impl Callback {
    /// The callback in one word: a closure is its value (a reference: tag
    /// bits 00), the function in slot `s` is `s << 2 | 1`.
    fn pack(self) -> usize {
        match self {
            Callback::Slot(slot) => (slot as usize) << 2 | 1,
            Callback::Closure(closure) => closure.0,
        }
    }

    fn unpack(word: usize) -> Callback {
        if word & 1 != 0 {
            Callback::Slot((word >> 2) as u32)
        } else {
            Callback::Closure(Value(word))
        }
    }
}

#[derive(Clone, Copy)]
struct Timer {
    /// 0: free entry.
    id: i32,
    /// A [`Callback`], packed (20 bytes a timer instead of 24).
    callback: usize,
    /// Period in ms for an interval; 0 for a one-shot timer.
    period: u32,
    /// Tick at which it fires next.
    due: u32,
    /// When it was scheduled, in scheduling order (ties of `due` go to the
    /// lowest, as in JavaScript); compared with wrapping arithmetic.
    seq: u32,
}

const FREE: Timer = Timer {
    id: 0,
    callback: 0,
    period: 0,
    due: 0,
    seq: 0,
};

struct Timers {
    table: [Timer; MAX_TIMERS],
    last_id: i32,
    /// `seq` of the timer scheduled last.
    last_seq: u32,
}

static TIMERS: ThreadCell<Timers> = ThreadCell::new(Timers {
    table: [FREE; MAX_TIMERS],
    last_id: 0,
    last_seq: 0,
});

impl Timers {
    fn next_seq(&mut self) -> u32 {
        self.last_seq = self.last_seq.wrapping_add(1);
        self.last_seq
    }
}

/// Whether `a` was scheduled before `b`. Sequence numbers wrap, which is
/// harmless as long as pending timers were scheduled less than 2^31
/// schedulings apart.
fn earlier(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn with_timers<R>(f: impl FnOnce(&mut Timers) -> R) -> R {
    // SAFETY: timers are used from thread mode only (scripts and the event
    // loop), and no closure passed here reports an error or runs scripts.
    unsafe { TIMERS.with(f) }
}

/// What the event loop should do next.
pub(crate) enum Next {
    /// Call this now.
    Run(Callback),
    /// Timers are pending, none is due.
    Wait,
    /// No timer left.
    Done,
}

/// Picks the timer that is due the longest (of those due at the same tick,
/// the one scheduled first), and reschedules or frees it before its callback
/// runs (so that the callback may clear or restart it).
pub(crate) fn next() -> Next {
    let now = ticks();
    with_timers(|t| {
        let mut pending = false;
        // (index, ms overdue, seq) of the timer to run.
        let mut best: Option<(usize, u32, u32)> = None;
        for (i, timer) in t.table.iter().enumerate() {
            if timer.id == 0 {
                continue;
            }
            pending = true;
            if reached(now, timer.due) {
                let overdue = now.wrapping_sub(timer.due);
                if best.is_none_or(|(_, o, seq)| {
                    overdue > o || (overdue == o && earlier(timer.seq, seq))
                }) {
                    best = Some((i, overdue, timer.seq));
                }
            }
        }
        match best {
            Some((i, _, _)) => {
                // A rescheduled interval queues up behind the timers
                // scheduled before, as if started anew (as in JavaScript).
                let seq = t.next_seq();
                let timer = &mut t.table[i];
                let callback = Callback::unpack(timer.callback);
                if timer.period == 0 {
                    *timer = FREE;
                } else {
                    // Fixed rate, but do not try to catch up after a long stall.
                    timer.due = timer.due.wrapping_add(timer.period);
                    if reached(now, timer.due) {
                        timer.due = now.wrapping_add(timer.period);
                    }
                    timer.seq = seq;
                }
                Next::Run(callback)
            }
            None if pending => Next::Wait,
            None => Next::Done,
        }
    })
}

/// Starts a timer that calls the function in `slot` after `ms` milliseconds,
/// and then every `ms` milliseconds if `repeat`. Returns its id (>= 1).
#[unsafe(no_mangle)]
pub extern "C" fn bs_timer_start(slot: u32, ms: i32, repeat: bool) -> i32 {
    if slot as usize >= SLOT_COUNT {
        runtime_error("timer callback: invalid function slot");
    }
    start(Callback::Slot(slot), ms, repeat)
}

/// Starts a timer that calls the closure `closure` (of type `() => void`)
/// after `ms` milliseconds, and then every `ms` milliseconds if `repeat`.
/// Returns its id (>= 1). The timer keeps the closure alive.
#[unsafe(no_mangle)]
pub extern "C" fn bs_timer_start_closure(closure: Value, ms: i32, repeat: bool) -> i32 {
    // SAFETY: reference values point to valid objects.
    match unsafe { Obj::from_value(closure) } {
        Some(obj) if obj.kind() == Kind::Closure => {}
        _ => runtime_error("timer callback: not a function"),
    }
    start(Callback::Closure(closure), ms, repeat)
}

fn start(callback: Callback, ms: i32, repeat: bool) -> i32 {
    let ms = ms.max(0) as u32;
    // An interval of 0 would starve everything else, so at least 1 ms (JS
    // clamps too).
    let period = if repeat { ms.max(1) } else { 0 };
    let due = ticks().wrapping_add(ms);
    let id = with_timers(|t| {
        let free = t.table.iter().position(|timer| timer.id == 0)?;
        // Ids grow; after wrapping, skip ids still in use.
        let mut id = t.last_id;
        loop {
            id = if id == i32::MAX { 1 } else { id + 1 };
            if !t.table.iter().any(|timer| timer.id == id) {
                break;
            }
        }
        t.last_id = id;
        let seq = t.next_seq();
        t.table[free] = Timer {
            id,
            callback: callback.pack(),
            period,
            due,
            seq,
        };
        Some(id)
    });
    match id {
        Some(id) => id,
        None => runtime_error("too many timers (at most 32 may be pending)"),
    }
}

/// Cancels a timer; unknown or finished ids are ignored (as in JS).
#[unsafe(no_mangle)]
pub extern "C" fn bs_timer_clear(id: i32) {
    if id <= 0 {
        return;
    }
    with_timers(|t| {
        if let Some(timer) = t.table.iter_mut().find(|timer| timer.id == id) {
            *timer = FREE;
        }
    })
}

/// The closure whose callback is running (undefined when none).
static RUNNING: ThreadCell<Value> = ThreadCell::new(Value::UNDEFINED);

/// Runs the callback of a closure timer under a catcher, keeping the
/// closure alive meanwhile (a one-shot timer has already let go of it).
pub(crate) fn run_closure(closure: Value) {
    // SAFETY: thread mode, not nested; no errors inside.
    unsafe { RUNNING.with(|r| *r = closure) };
    run_caught(call_running_closure);
    // SAFETY: as above.
    unsafe { RUNNING.with(|r| *r = Value::UNDEFINED) };
}

/// Calls the function of the running closure, through its slot, with the
/// closure as its argument.
unsafe extern "C" fn call_running_closure() {
    // SAFETY: thread mode, not nested.
    let closure = unsafe { RUNNING.with(|r| *r) };
    // SAFETY: `bs_timer_start_closure` checked that it is a closure, and
    // `bs_closure_new` that its slot is in the table.
    let slot = unsafe { Obj::from_address(closure.0) }.word(layout::CLOSURE_SLOT);
    // SAFETY: as above; the host writes slots with aligned 32-bit writes.
    let code = unsafe { crate::abi::slots().add(slot).read_volatile() };
    // SAFETY: the function of a `() => void` closure takes the closure only
    // (an empty slot holds a stub that reports an error, whatever the
    // signature).
    let code: unsafe extern "C" fn(Value) = unsafe { core::mem::transmute(code) };
    // SAFETY: as above.
    unsafe { code(closure) }
}

/// Calls `f` with the closure of every pending timer and of the running
/// callback: roots of the collector.
pub(crate) fn for_each_closure(mut f: impl FnMut(Value)) {
    with_timers(|t| {
        for timer in t.table.iter().filter(|timer| timer.id != 0) {
            if let Callback::Closure(closure) = Callback::unpack(timer.callback) {
                f(closure);
            }
        }
    });
    // SAFETY: thread mode; the collector does not run inside `RUNNING.with`.
    f(unsafe { RUNNING.with(|r| *r) });
}
