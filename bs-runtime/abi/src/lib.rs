//! The device ABI of BlueScript, defined once.
//!
//! Three parties meet in a firmware image: the device runtime
//! (`bs-runtime`), the code that the compiler generates for the image and
//! for patches, and the host, which reads and writes the device's memory by
//! symbol. Everything the three must agree on as numbers or names lives
//! here: the well-known symbols and what kind and size of thing each is
//! ([`symbols`]), the runtime's entry points that every image keeps so a
//! later patch may call them ([`runtime_functions!`]), the device's states
//! ([`State`]), the mark the host writes at reset ([`HOST_ATTACHED`]), the
//! host-request mailbox ([`host_request`]), the
//! bits of an `any` value ([`value`]), the op codes of the dynamic
//! operations ([`ArithOp`], [`CompareOp`]), descriptor and member kinds and
//! object layouts ([`object`]), and the layout of `__bs_program`
//! ([`program`]). `docs/device-abi.md` explains what they mean.
//!
//! The device is 32-bit: a word is 4 bytes, and the numbers here are `u32`
//! (the runtime, written for `usize` words so that its portable part runs
//! on a 64-bit host too, widens them).
//!
//! No dependencies, `no_std`, no code that runs on the device beyond
//! constants and `const fn`s.

#![no_std]

/// A `#[repr]` enum whose variants are numbers of the ABI, with `ALL` (in
/// the order of their numbers) and `from_word`, which finds the variant a
/// word read from the device (or passed by generated code) holds.
macro_rules! numbered {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $repr:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $number:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr($repr)]
        pub enum $name {
            $($(#[$variant_meta])* $variant = $number,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            // Inlined: the runtime decodes kinds in its allocation and
            // access paths, and a development build does not inline across
            // crates on its own.
            #[inline]
            pub const fn from_word(word: $repr) -> Option<$name> {
                match word {
                    $($number => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

pub mod host_request;
pub mod object;
pub mod profile;
pub mod program;
pub mod symbols;
pub mod value;

/// Bytes in a device word (a slot, a pointer, a value).
pub const WORD_BYTES: u32 = 4;

/// What the host writes to [`symbols::HOST_ATTACHED`] while the core is
/// halted at reset: the runtime then starts its output channels in blocking
/// mode (nothing is dropped before the host's first read) and clears it.
pub const HOST_ATTACHED: u32 = 0xB105_C0DE;

/// RTT up channel of the program's standard output (`console.log`).
pub const STDOUT_CHANNEL: usize = 0;
/// RTT up channel of `console.error` and of run-time errors.
pub const STDERR_CHANNEL: usize = 1;

numbered! {
    /// The values of [`symbols::STATE`]: what the device is doing.
    pub enum State: u32 {
        /// Reset, runtime not started yet.
        Booting = 0,
        /// Running the top-level code.
        TopLevel = 1,
        /// Running a timer callback.
        Callback = 2,
        /// Sleeping; timers are pending.
        Idle = 3,
        /// Top level done and no timer pending.
        Finished = 4,
        /// Stopped for good after a panic, a hard fault other than a script
        /// stack overflow, or an error outside of script code.
        Halted = 5,
        /// Running a cell the host posted ([`symbols::HOST_REQUEST`]).
        Cell = 6,
    }
}

numbered! {
    /// `op` of `bs_any_arith`: the operator of `a op b` when an operand is
    /// `any`.
    pub enum ArithOp: u32 {
        Add = 0,
        Sub = 1,
        Mul = 2,
        Div = 3,
        Rem = 4,
        Pow = 5,
    }
}

impl ArithOp {
    /// How scripts spell it (in error messages).
    pub const fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Rem => "%",
            ArithOp::Pow => "**",
        }
    }
}

numbered! {
    /// `op` of `bs_any_compare`.
    pub enum CompareOp: u32 {
        Lt = 0,
        Le = 1,
        Gt = 2,
        Ge = 3,
    }
}

impl CompareOp {
    pub const fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_discriminants_and_round_trip() {
        for (i, state) in State::ALL.iter().enumerate() {
            assert_eq!(*state as u32, i as u32);
            assert_eq!(State::from_word(i as u32), Some(*state));
        }
        assert_eq!(State::from_word(7), None);
        for (i, op) in ArithOp::ALL.iter().enumerate() {
            assert_eq!(*op as u32, i as u32);
            assert_eq!(ArithOp::from_word(i as u32), Some(*op));
        }
        assert_eq!(ArithOp::from_word(6), None);
        for (i, op) in CompareOp::ALL.iter().enumerate() {
            assert_eq!(*op as u32, i as u32);
            assert_eq!(CompareOp::from_word(i as u32), Some(*op));
        }
        assert_eq!(CompareOp::from_word(4), None);
        for (i, outcome) in host_request::Outcome::ALL.iter().enumerate() {
            assert_eq!(*outcome as u32, i as u32);
            assert_eq!(host_request::Outcome::from_word(i as u32), Some(*outcome));
        }
        assert_eq!(host_request::Outcome::from_word(3), None);
        assert_eq!(CompareOp::from_word(u32::MAX), None);
    }
}
