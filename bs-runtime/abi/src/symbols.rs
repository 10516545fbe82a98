//! The symbols through which the runtime, generated code and the host find
//! each other by name (docs/device-abi.md), and what each must be in an
//! image ([`IMAGE_SYMBOLS`]).

use crate::{program, WORD_BYTES};

/// Function table: slot `i` holds the address of script function `i`
/// (with the Thumb bit on Arm). `[usize; N]`; the host reads N from the
/// symbol's size.
pub const SLOTS: &str = "__bs_slots";
/// Free RAM (zeroed at boot) where the host places new code; its symbol's
/// address and size are the region's bounds.
pub const PATCH_REGION: &str = "__bs_patch_region";
/// `u32`: patches applied since boot, written by the host.
pub const PATCH_EPOCH: &str = "__bs_patch_epoch";
/// `u32`: a [`crate::State`].
pub const STATE: &str = "__bs_state";
/// `u32`: run-time errors reported since boot.
pub const ERROR_COUNT: &str = "__bs_error_count";
/// `u32`, not zeroed at boot: the host writes [`crate::HOST_ATTACHED`]
/// here at reset.
pub const HOST_ATTACHED: &str = "__bs_host_attached";
/// `[u32; host_request::WORDS]`, zero at boot: the host-request mailbox
/// ([`crate::host_request`]).
pub const HOST_REQUEST: &str = "__bs_host_request";
/// `u32`, zero at boot: 0, or the address of the host's roots table in the
/// patch region, `[count, address_0, …]`: each address that of a word
/// holding a value (the globals that cells declare), which the collector
/// marks besides the program's.
pub const HOST_ROOTS: &str = "__bs_host_roots";
/// `u32`, zero at boot: generated code records type profiles
/// ([`crate::profile`]) while it is 0; the host writes 1 to pause them.
pub const PROFILING_PAUSED: &str = "__bs_profiling_paused";
/// The SEGGER RTT control block (defined by `rtt-target`).
pub const RTT: &str = "_SEGGER_RTT";
/// Bytes of the RTT control block with its two up channels.
pub const RTT_SIZE: u32 = 72;
/// `usize`: the innermost root frame of the shadow stack, 0 when none.
pub const ROOTS_TOP: &str = "__bs_roots_top";
/// The heap arena; its symbol's address and size are the heap's bounds.
pub const HEAP: &str = "__bs_heap";
/// `bluescript::Program`, defined by the image's generated code (layout:
/// [`crate::program`]).
pub const PROGRAM: &str = "__bs_program";
/// The top-level code of the image's scripts, `extern "C" fn()`.
pub const MAIN: &str = "__bs_main";
/// Linker-script symbols bounding the script stack (`memory.x`); a
/// template without them runs script code on the main stack.
pub const SCRIPT_STACK_BOTTOM: &str = "__bs_script_stack_bottom";
pub const SCRIPT_STACK_TOP: &str = "__bs_script_stack_top";
/// The symbols a template's linker script may define (addresses without
/// a type).
pub const LINKER_SYMBOLS: &[&str] = &[SCRIPT_STACK_BOTTOM, SCRIPT_STACK_TOP];

/// Prefixes of the symbols named after a script or driver item (its name
/// mangled into a Rust identifier by the compiler).
pub mod prefix {
    /// A script function in the image: `__bs_fn_<name>`.
    pub const FUNCTION: &str = "__bs_fn_";
    /// A script global: `__bs_g_<name>`.
    pub const GLOBAL: &str = "__bs_g_";
    /// A class descriptor `__bs_class_<C>`, and a method adapter
    /// `__bs_class_<C>_<m>`.
    pub const CLASS: &str = "__bs_class_";
    /// The descriptor of an array or function type: `__bs_type_<T>`.
    pub const TYPE: &str = "__bs_type_";
    /// A descriptor the runtime defines: `__bs_desc_<what>`.
    pub const RUNTIME_DESCRIPTOR: &str = "__bs_desc_";
    /// A function's type profile ([`crate::profile`]): `__bs_prof_<name>`
    /// in the image, `__bs_prof_<name>__p<epoch>` in a patch.
    pub const PROFILE: &str = "__bs_prof_";
    /// A driver's `extern "C"` entry point: `__bs_export_<name>`.
    pub const EXPORT: &str = "__bs_export_";
    /// A driver's signature record: `__bs_sig_<name>`.
    pub const SIGNATURE: &str = "__bs_sig_";
    /// Every function of the runtime's C ABI.
    pub const RUNTIME_FUNCTION: &str = "bs_";
}

/// Between a script function's symbol and the epoch of the patch that
/// defines it: `__bs_fn_<name>__p<epoch>`.
pub const PATCH_EPOCH_SEPARATOR: &str = "__p";

/// Calls `$callback! { name, … }` with every function of the runtime's C
/// ABI (docs/device-abi.md, "Functions the runtime defines" and "Values
/// and the heap"). Every image keeps all of them, called or not, so that a
/// patch compiled later may call any: the runtime builds its table of
/// kept addresses from this list, and [`RUNTIME_FUNCTIONS`] has their names.
#[macro_export]
macro_rules! runtime_functions {
    ($callback:ident) => {
        $callback! {
            // Output
            bs_print_begin, bs_print_int, bs_print_float, bs_print_bool, bs_print_str,
            bs_print_space, bs_print_end, bs_print_any,
            // Time and timers
            bs_time_now, bs_time_delay, bs_timer_start, bs_timer_clear, bs_timer_start_closure,
            // Run-time errors
            bs_error, bs_catch, bs_index_error,
            // Math
            bs_math_sqrt, bs_math_abs, bs_math_floor, bs_math_ceil, bs_math_round, bs_math_min,
            bs_math_max, bs_math_sin, bs_math_cos, bs_math_tan, bs_math_atan2, bs_math_exp,
            bs_math_log, bs_math_pow,
            // Allocation
            bs_string_new, bs_object_new, bs_array_new, bs_array_copy, bs_closure_new,
            bs_cell_new, bs_raw_cell_new,
            // Strings
            bs_string_concat, bs_string_from_int, bs_string_from_float, bs_string_from_bool,
            bs_string_from_any, bs_string_length, bs_string_equals, bs_string_compare,
            bs_string_starts_with, bs_string_ends_with, bs_string_index_of, bs_string_substring,
            bs_string_char_code_at, bs_string_from_char_code,
            // Arrays
            bs_array_length, bs_array_get, bs_array_set, bs_array_set_value, bs_array_get_i32,
            bs_array_set_i32, bs_array_get_f32, bs_array_set_f32, bs_array_get_bool,
            bs_array_set_bool, bs_array_push, bs_array_pop, bs_array_shift, bs_array_unshift,
            // any
            bs_any_from_int, bs_any_from_float, bs_any_from_bool, bs_any_to_int, bs_any_to_float,
            bs_any_to_bool, bs_any_to_string, bs_any_to_null, bs_any_to_object, bs_any_truthy,
            bs_any_equals, bs_instance_of, bs_is_array,
            // Dynamic operations
            bs_any_arith, bs_any_compare, bs_any_neg, bs_any_bitnot, bs_any_get, bs_any_set,
            bs_any_call_method, bs_any_call, bs_any_index_get, bs_any_index_set,
            // Collector
            bs_gc_roots, bs_gc_collect,
        }
    };
}

/// Calls `$callback! { name, … }` with every descriptor the runtime
/// defines (in flash; docs/values-and-heap.md, "Descriptors"). Every image
/// keeps them all, as it keeps [`runtime_functions!`].
#[macro_export]
macro_rules! runtime_descriptors {
    ($callback:ident) => {
        $callback! {
            __bs_desc_string, __bs_desc_int_array, __bs_desc_int32_array, __bs_desc_float_array,
            __bs_desc_bool_array, __bs_desc_uint8_array, __bs_desc_fixed_array,
            __bs_desc_any_array, __bs_desc_string_array, __bs_desc_vector, __bs_desc_cell,
            __bs_desc_raw_cell,
        }
    };
}

macro_rules! names {
    ($($name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}

/// The names of [`runtime_functions!`].
pub const RUNTIME_FUNCTIONS: &[&str] = runtime_functions!(names);
/// The names of [`runtime_descriptors!`].
pub const RUNTIME_DESCRIPTORS: &[&str] = runtime_descriptors!(names);

/// What a symbol of the image is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    Code,
    Data,
}

/// The size an image's symbol must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Exactly this many bytes.
    Bytes(u32),
    /// A nonzero multiple of this many bytes: the runtime's configuration
    /// chooses it, and the host reads it from the symbol.
    MultipleOf(u32),
    /// Whatever the definition needs; the ABI fixes only its address.
    Any,
}

impl Size {
    pub const fn allows(self, bytes: u64) -> bool {
        match self {
            Size::Bytes(n) => bytes == n as u64,
            Size::MultipleOf(n) => bytes != 0 && bytes.is_multiple_of(n as u64),
            Size::Any => true,
        }
    }
}

/// One symbol that every image defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSymbol {
    pub name: &'static str,
    pub kind: SymbolKind,
    pub size: Size,
    /// The alignment its address must have, in bytes (1 for code, whose
    /// symbols follow the architecture's rules: Arm sets the Thumb bit).
    pub align: u32,
}

const fn data(name: &'static str, size: Size, align: u32) -> ImageSymbol {
    ImageSymbol {
        name,
        kind: SymbolKind::Data,
        size,
        align,
    }
}

const WORD: Size = Size::Bytes(WORD_BYTES);

/// The data symbols the host reads or writes, and the program record, in
/// every image (the runtime's functions and descriptors are in
/// [`RUNTIME_FUNCTIONS`] and [`RUNTIME_DESCRIPTORS`]).
pub const IMAGE_SYMBOLS: &[ImageSymbol] = &[
    data(SLOTS, Size::MultipleOf(WORD_BYTES), WORD_BYTES),
    // 8-aligned: code placed at its start may need it (Arm's literal pools).
    data(PATCH_REGION, Size::MultipleOf(8), 8),
    data(PATCH_EPOCH, WORD, WORD_BYTES),
    data(STATE, WORD, WORD_BYTES),
    data(ERROR_COUNT, WORD, WORD_BYTES),
    data(PROFILING_PAUSED, WORD, WORD_BYTES),
    data(HOST_ATTACHED, WORD, WORD_BYTES),
    data(
        HOST_REQUEST,
        Size::Bytes(crate::host_request::SIZE),
        WORD_BYTES,
    ),
    data(HOST_ROOTS, WORD, WORD_BYTES),
    data(RTT, Size::Bytes(RTT_SIZE), WORD_BYTES),
    data(ROOTS_TOP, WORD, WORD_BYTES),
    data(HEAP, Size::MultipleOf(8), 8),
    data(PROGRAM, Size::Bytes(program::SIZE), WORD_BYTES),
    ImageSymbol {
        name: MAIN,
        kind: SymbolKind::Code,
        size: Size::Any,
        align: 1,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_name_distinct_symbols_of_their_families() {
        let all = RUNTIME_FUNCTIONS
            .iter()
            .chain(RUNTIME_DESCRIPTORS)
            .chain(LINKER_SYMBOLS)
            .chain(IMAGE_SYMBOLS.iter().map(|s| &s.name));
        let mut seen: [&str; 128] = [""; 128];
        for (i, name) in all.enumerate() {
            assert!(!seen[..i].contains(name), "{name} is listed twice");
            seen[i] = name;
        }
        assert!(RUNTIME_FUNCTIONS
            .iter()
            .all(|f| f.starts_with(prefix::RUNTIME_FUNCTION)));
        assert!(RUNTIME_DESCRIPTORS
            .iter()
            .all(|d| d.starts_with(prefix::RUNTIME_DESCRIPTOR)));
        assert!(RUNTIME_FUNCTIONS.contains(&"bs_print_begin"));
        assert!(RUNTIME_FUNCTIONS.contains(&"bs_gc_collect"));
    }

    #[test]
    fn sizes() {
        assert!(Size::Bytes(4).allows(4) && !Size::Bytes(4).allows(8));
        assert!(Size::MultipleOf(8).allows(65536));
        assert!(!Size::MultipleOf(8).allows(0) && !Size::MultipleOf(8).allows(12));
    }
}
