//! The type profiles a development image records (`bluescript_abi::profile`):
//! what values reached each untyped parameter of each function, read from
//! the device and named. The dynamic compiler chooses from them what to
//! specialize; the shell's `.profile` shows them.

use crate::connection::CoreAccess;
use crate::shadow::Shadow;
use anyhow::Result;
use bluescript_abi::profile::{
    self, KIND_BOOLEAN, KIND_FLOAT, KIND_INTEGER, KIND_NULL, KIND_OBJECT, NO_DESCRIPTOR,
    SEVERAL_DESCRIPTORS,
};
use bluescript_abi::WORD_BYTES;
use bluescript_compiler::ir::Ty;
use serde::{Deserialize, Serialize};

/// Where a function's profile record is, and the parameters it profiles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRecord {
    pub address: u32,
    /// Its `any` parameters, in order.
    pub params: Vec<String>,
}

impl ProfileRecord {
    pub fn bytes(&self) -> u32 {
        profile::record_words(self.params.len()) as u32 * WORD_BYTES
    }
}

/// What one function's record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionProfile {
    pub function: String,
    /// Calls since its code was installed, counted up to
    /// `bluescript_abi::profile::PROFILED_CALLS`.
    pub calls: u32,
    pub params: Vec<ParamProfile>,
}

/// What reached one parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamProfile {
    pub name: String,
    /// The one type every value had ([`RecordedParam::single_type`]).
    pub ty: Option<Ty>,
    /// What came, as a type ([`RecordedParam::describe`]).
    pub description: String,
}

/// A parameter's two words of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedParam {
    /// `KIND_*` bits.
    pub kinds: u32,
    /// The objects' descriptor: `NO_DESCRIPTOR`, an address, or
    /// `SEVERAL_DESCRIPTORS`.
    pub descriptor: u32,
}

impl RecordedParam {
    /// The one type every value had, if there was one: a class (or the
    /// runtime's object types) with `| null` if `null` came too, or a
    /// primitive type. `None` when nothing came or the values varied.
    pub fn single_type(&self, shadow: &Shadow) -> Option<Ty> {
        let objects = self.kinds & KIND_OBJECT as u32 != 0;
        let others = self.kinds & !(KIND_OBJECT as u32 | KIND_NULL as u32);
        if objects {
            if others != 0 || self.descriptor == SEVERAL_DESCRIPTORS as u32 {
                return None;
            }
            let ty = *shadow.type_descriptors.get(&self.descriptor)?;
            return Some(if self.kinds & KIND_NULL as u32 != 0 {
                if ty.is_reference() {
                    Ty::nullable(ty)
                } else {
                    return None;
                }
            } else {
                ty
            });
        }
        match self.kinds {
            k if k == KIND_INTEGER as u32 => Some(Ty::Integer),
            k if k == KIND_FLOAT as u32 => Some(Ty::Float),
            k if k == KIND_BOOLEAN as u32 => Some(Ty::Boolean),
            k if k == KIND_NULL as u32 => Some(Ty::Null),
            _ => None,
        }
    }

    /// What came, as a type: `Element`, `Element | null`, `integer |
    /// string`, `nothing yet`.
    pub fn describe(&self, shadow: &Shadow) -> String {
        if self.kinds == 0 {
            return "nothing yet".to_string();
        }
        let mut parts = Vec::new();
        let primitives = [
            (KIND_INTEGER, "integer"),
            (KIND_FLOAT, "float"),
            (KIND_BOOLEAN, "boolean"),
        ];
        for (kind, name) in primitives {
            if self.kinds & kind as u32 != 0 {
                parts.push(name.to_string());
            }
        }
        if self.kinds & KIND_OBJECT as u32 != 0 {
            parts.push(match self.descriptor {
                d if d == SEVERAL_DESCRIPTORS as u32 => "objects of several types".to_string(),
                d if d == NO_DESCRIPTOR as u32 => "an object".to_string(),
                d => shadow.type_descriptors.get(&d).map_or_else(
                    || format!("an object (descriptor {d:#010x})"),
                    Ty::to_string,
                ),
            });
        }
        if self.kinds & KIND_NULL as u32 != 0 {
            parts.push("null".to_string());
        }
        parts.join(" | ")
    }
}

/// Reads every profiled function's record. The core must be accessible
/// (halted, or readable while running).
pub fn read(core: &mut dyn CoreAccess, shadow: &Shadow) -> Result<Vec<FunctionProfile>> {
    let mut profiles = Vec::new();
    for (name, function) in &shadow.functions {
        let Some(record) = &function.profile else {
            continue;
        };
        let mut bytes = vec![0; record.bytes() as usize];
        core.read_memory(record.address, &mut bytes)?;
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|word| u32::from_le_bytes(word.try_into().expect("4 bytes")))
            .collect();
        let params = record
            .params
            .iter()
            .enumerate()
            .map(|(i, param)| {
                let at = profile::HEADER_WORDS + profile::PARAM_WORDS * i;
                let recorded = RecordedParam {
                    kinds: words[at],
                    descriptor: words[at + 1],
                };
                ParamProfile {
                    name: param.clone(),
                    ty: recorded.single_type(shadow),
                    description: recorded.describe(shadow),
                }
            })
            .collect();
        profiles.push(FunctionProfile {
            function: name.clone(),
            calls: words[0],
            params,
        });
    }
    Ok(profiles)
}
