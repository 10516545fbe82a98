//! Links with esp-hal's linker script (which includes the chip's memory
//! layout: no `memory.x` here).

fn main() {
    println!("cargo:rustc-link-arg=-Tlinkall.x");
    println!("cargo:rerun-if-changed=build.rs");
}
