//! The layout of `__bs_program` (`bluescript::Program`, `#[repr(C)]`),
//! which the generated code of an image defines and the host reads: byte
//! offsets, every field one word.

/// `build_id: u32`: identifies the build; the host checks it against its
/// shadow machine before touching the device.
pub const BUILD_ID: u32 = 0;
/// `slots: &[FnAddr]`: the initial contents of the function table.
pub const SLOTS: u32 = 4;
pub const SLOT_COUNT: u32 = 8;
/// `main`: the top-level code's address.
pub const MAIN: u32 = 12;
/// `exports: &[Export]`, each `{ entry, signature }`.
pub const EXPORTS: u32 = 16;
pub const EXPORT_COUNT: u32 = 20;
/// Bytes of the whole record.
pub const SIZE: u32 = 24;
/// Bytes of one `Export`.
pub const EXPORT_SIZE: u32 = 8;
