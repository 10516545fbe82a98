//! Type profiles of untyped parameters (docs/device-abi.md, "Type
//! profiles"): on entry, a function of a development image or a patch
//! that has `any` parameters counts the call and records, for each, the
//! kinds of values and the descriptor of objects it received, in a record
//! the host reads by symbol, for its first `PROFILED_CALLS` calls. Release
//! images record nothing.

use super::{function_symbol, patch_symbol, Generator};
use crate::ir::{Function, Ty};
use bluescript_abi::profile;
use bluescript_abi::symbols::prefix;
use std::fmt::Write;

/// The symbol of `function`'s profile record in the image.
pub fn profile_symbol(function: &str) -> String {
    record_symbol(&function_symbol(function))
}

/// The symbol of its record in patch number `epoch`.
pub fn patch_profile_symbol(function: &str, epoch: u32) -> String {
    record_symbol(&patch_symbol(function, epoch))
}

/// The record of the function whose code is `symbol`: the same name
/// under the profile prefix.
fn record_symbol(symbol: &str) -> String {
    symbol.replacen(prefix::FUNCTION, prefix::PROFILE, 1)
}

/// The parameters a record profiles: the `any` ones, in order. None
/// where no specialized version could gain anything (the body reads,
/// writes or calls no member of an `any`; integer arithmetic is
/// tagged.rs's), or for a closure (its calls are not specialized).
pub fn profiled_params(function: &Function) -> Vec<&str> {
    if function.is_closure || !super::specialize::has_dynamic_members(&function.body) {
        return Vec::new();
    }
    function
        .params
        .iter()
        .filter(|(_, ty)| *ty == Ty::Any)
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Records one value in a parameter's two words: its kind bit (`1 << tag`
/// for numbers and booleans) and, for an object, its descriptor.
pub(super) const PROFILE_HELPERS: &str = r#"#[inline(always)]
unsafe fn profile_value(record: *mut u32, v: u32) {
    unsafe {
        let tag = v & TAG_MASK;
        let kind = if tag != TAG_REFERENCE {
            1 << tag
        } else if v == ANY_UNDEFINED {
            PROFILE_NULL
        } else {
            let descriptor = *(v as *const u32);
            let seen = *record.add(1);
            if seen != descriptor {
                *record.add(1) = if seen == PROFILE_NO_DESCRIPTOR { descriptor } else { PROFILE_SEVERAL };
            }
            PROFILE_OBJECT
        };
        *record |= kind;
    }
}
"#;

/// The ABI's profile constants, for `push_helpers`.
pub(super) fn constants() -> [(&'static str, &'static str, usize); 5] {
    [
        ("PROFILED_CALLS", "u32", profile::PROFILED_CALLS),
        ("PROFILE_NULL", "u32", profile::KIND_NULL),
        ("PROFILE_OBJECT", "u32", profile::KIND_OBJECT),
        ("PROFILE_NO_DESCRIPTOR", "u32", profile::NO_DESCRIPTOR),
        ("PROFILE_SEVERAL", "u32", profile::SEVERAL_DESCRIPTORS),
    ]
}

impl Generator<'_> {
    /// The record of `function`, whose code is `symbol`, before its code;
    /// the statements on entry that record a call in it (`None`: the
    /// function is not profiled).
    pub(super) fn profile_record(&mut self, function: &Function, symbol: &str) -> Option<String> {
        let params = profiled_params(function);
        if !self.profiles || params.is_empty() {
            return None;
        }
        let record = record_symbol(symbol);
        let _ = writeln!(
            self.out,
            "#[unsafe(no_mangle)]\nstatic mut {record}: [u32; {words}] = [0; {words}];",
            words = profile::record_words(params.len())
        );
        Some(recording(&record, &params))
    }
}

/// The statements that record a call in `record`: the count, and each of
/// `params`.
fn recording(record: &str, params: &[&str]) -> String {
    // Once the count reaches its limit, a call costs one load and
    // one comparison.
    let mut code = format!(
        "let record = &raw mut {record} as *mut u32; \
             if *record < PROFILED_CALLS && __bs_profiling_paused == 0 {{ *record += 1;"
    );
    for (i, name) in params.iter().enumerate() {
        let offset = profile::HEADER_WORDS + profile::PARAM_WORDS * i;
        let _ = write!(
            code,
            " profile_value(record.add({offset}), {});",
            super::local(name)
        );
    }
    code.push_str(" }");
    code
}
