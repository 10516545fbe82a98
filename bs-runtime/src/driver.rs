//! What `#[bluescript::export]` expands to when a driver takes or returns
//! strings (LANGUAGE.md §11): a string crosses as a string object.

use crate::builtins::bs_string_new;
use crate::convert;
use crate::string;
use crate::value::Value;

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
