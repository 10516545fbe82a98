//! Start-up and the event loop.

use crate::abi::{self, set_state, State, SLOT_COUNT};
use crate::catch::{self, run_caught, runtime_error};
use crate::host_request::Outcome;
use crate::timer::{self, Callback, Next};
use crate::{arch, gc, print, stack, time, FnAddr, Program};

/// Frequency of the clock the tick timer counts, in Hz:
/// `BLUESCRIPT_CORE_CLOCK_HZ` at build time, which a board's template sets
/// in the `[env]` section of its `.cargo/config.toml`; otherwise that of
/// the default board, QEMU `mps2-an386` (Cortex-M4F), whose SysTick counts
/// the 25 MHz processor clock. Firmware that sets its clock at run time
/// calls [`run_with_clock`].
pub const CORE_CLOCK_HZ: u32 = match option_env!("BLUESCRIPT_CORE_CLOCK_HZ") {
    Some(text) => crate::abi::parse_size(text.as_bytes()) as u32,
    None => 25_000_000,
};

/// Runs the scripts: top-level code first, then timer callbacks, and the
/// requests of the host between them (docs/device-abi.md, "Host
/// requests"). Never returns.
pub fn run(program: &'static Program) -> ! {
    run_with_clock(program, CORE_CLOCK_HZ)
}

/// [`run`], for a core clock of `core_clock_hz` (the SysTick clock source).
pub fn run_with_clock(program: &'static Program, core_clock_hz: u32) -> ! {
    abi::keep();
    // The host reads the program record (`__bs_program`); make sure that
    // inlining `run` cannot dissolve it.
    core::hint::black_box(program as *const Program);
    #[cfg(feature = "serial-agent")]
    crate::serial_agent::start();
    // SAFETY: thread mode.
    unsafe { print::init() };
    gc::init();
    install_slots(program.slots);
    time::start(core_clock_hz);
    stack::run_on_script_stack(program as *const Program as usize, event_loop)
}

/// Runs the top-level code and then the timers, on the script stack.
///
/// # Safety
/// `program` is the address of a `&'static Program`.
unsafe extern "C" fn event_loop(program: usize) -> ! {
    // SAFETY: by the caller's contract.
    let program = unsafe { &*(program as *const Program) };
    set_state(State::TopLevel);
    // SAFETY: `main` is the generated top-level function, `extern "C" fn()`.
    let main: unsafe extern "C" fn() = unsafe { core::mem::transmute(program.main.0) };
    run_caught(main);

    let mut synced_epoch = abi::patch_epoch();
    loop {
        // Code the host wrote since the last callback must be fetched as
        // written (see `arch::sync_instruction_fetch`). Between callbacks no
        // script code runs, so none can have fetched it stale.
        let epoch = abi::patch_epoch();
        if epoch != synced_epoch {
            arch::sync_instruction_fetch();
            synced_epoch = epoch;
        }
        serve_host_request(&mut synced_epoch);
        match timer::next() {
            Next::Run(Callback::Slot(slot)) => {
                set_state(State::Callback);
                run_caught(slot_fn(slot));
            }
            Next::Run(Callback::Closure(closure)) => {
                set_state(State::Callback);
                timer::run_closure(closure);
            }
            Next::Wait => {
                set_state(State::Idle);
                // The 1 ms tick wakes the core up.
                arch::wait_for_interrupt();
            }
            Next::Done => {
                // The program is over, but the host may still post
                // requests (which may start timers): the tick keeps waking
                // the core up to look, once a millisecond.
                set_state(State::Finished);
                arch::wait_for_interrupt();
            }
        }
    }
}

/// Runs the request the host posted (`__bs_host_request`), if any, at this
/// safe point of the event loop (no script code runs): under a catcher like
/// a callback, in the state `Cell`, which is put back afterwards. Top-level
/// code that never ends serves none.
fn serve_host_request(synced_epoch: &mut u32) {
    let mailbox = abi::host_request();
    let Some(request) = mailbox.pending() else {
        return;
    };
    // A cell is code the host has just written: fetch it as written, even if
    // the host changed no epoch for it.
    arch::sync_instruction_fetch();
    *synced_epoch = abi::patch_epoch();
    let state = abi::state();
    set_state(State::Cell);
    let returned = run_caught(code_at(request.function as usize));
    let outcome = match (catch::take_abandoned(), returned) {
        (true, _) => Outcome::Abandoned,
        (false, true) => Outcome::Returned,
        (false, false) => Outcome::Failed,
    };
    mailbox.finish(request, outcome);
    abi::restore_state(state);
}

/// Whether the tick interrupt, having interrupted thread mode at `pc` (a
/// data address: without the Thumb bit, or an instruction alias), must
/// resume it in [`catch::abandon`]: the host asked to abandon the running
/// cell, and `pc` is in the patch region, i.e. in script code the host
/// wrote, which may be abandoned at any instruction. Elsewhere (the
/// runtime, the image's functions) the next tick looks again.
pub(crate) fn abandons_cell_at(pc: usize) -> bool {
    abi::state() == State::Cell as u32
        && abi::host_request().abandon_requested()
        && abi::patch_region().contains(&pc)
}

/// Fills the function table: the program's functions, then a stub that
/// reports calls to slots no function was loaded into.
fn install_slots(slots: &[FnAddr]) {
    assert!(
        slots.len() <= SLOT_COUNT,
        "the program has {} functions, more than the {SLOT_COUNT} slots of the function table",
        slots.len()
    );
    let table = abi::slots();
    for i in 0..SLOT_COUNT {
        let addr = slots
            .get(i)
            .map_or(unloaded_slot as *const () as usize, |f| f.0 as usize);
        // SAFETY: `i` is in bounds; nothing runs script code yet.
        unsafe { table.add(i).write_volatile(addr) };
    }
}

/// The function currently in `slot` (the host may have switched it).
fn slot_fn(slot: u32) -> unsafe extern "C" fn() {
    // Checked by bs_timer_start.
    debug_assert!((slot as usize) < SLOT_COUNT);
    // SAFETY: in bounds; the host writes slots with aligned 32-bit writes.
    code_at(unsafe { abi::slots().add(slot as usize).read_volatile() })
}

/// The function of no parameters at `addr`, a code address as a slot holds
/// it (0: none, whose call is a run-time error).
fn code_at(addr: usize) -> unsafe extern "C" fn() {
    if addr == 0 {
        return unloaded_slot;
    }
    // SAFETY: slots and host requests hold addresses of `extern "C" fn()`
    // script functions (timer callbacks and cells take no arguments).
    unsafe { core::mem::transmute::<usize, unsafe extern "C" fn()>(addr) }
}

/// Placed in unused slots. It never returns, so it is safe to call with any
/// signature.
unsafe extern "C" fn unloaded_slot() {
    runtime_error("call of a function slot that holds no function");
}
