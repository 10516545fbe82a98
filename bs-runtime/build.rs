//! Tells the Cortex-M code which architecture version it is built for:
//! rustc has no `cfg` for it, and the instruction sets, the fault model and
//! the memory protection differ (as cortex-m's own build script does).
//! And tells the allocation path whether it is built at opt-level `z`.

use std::env;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(armv6m)");
    println!("cargo:rustc-check-cfg=cfg(armv8m)");
    println!("cargo:rustc-check-cfg=cfg(opt_level_z)");
    println!("cargo:rerun-if-changed=build.rs");
    let target = env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv6m") {
        // Thumb-1 only, no CAS atomics, the MPU optional.
        println!("cargo:rustc-cfg=armv6m");
    } else if target.starts_with("thumbv8m.main") {
        // Armv8-M Mainline: the PMSAv8 MPU and the stack limit registers.
        println!("cargo:rustc-cfg=armv8m");
    }
    // A new growable array's path is inlined into `bs_array_new` (17 %
    // fewer instructions for the allocation-heavy storage benchmark in a
    // development image), except at `z` (release images), where LLVM's
    // outliner splits the inlined code up again and it runs 15 % slower.
    if env::var("OPT_LEVEL").as_deref() == Ok("z") {
        println!("cargo:rustc-cfg=opt_level_z");
    }
}
