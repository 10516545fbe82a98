//! Puts `memory.x` where the linker script of the runtime crate (`link.x`
//! of cortex-m-rt or riscv-rt) finds it, and `device.x` if the board has
//! one (a template that lays out the interrupt vectors itself, with
//! cortex-m-rt's `device` feature, whose `link.x` includes it).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).unwrap();
    if fs::exists("device.x").unwrap() {
        fs::copy("device.x", out.join("device.x")).unwrap();
        println!("cargo:rerun-if-changed=device.x");
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
