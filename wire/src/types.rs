//! A description of an inmate's WIT world: the functions it exports (the proxied methods)
//! and the functions it imports that are not WASI (callbacks to the application).
//!
//! The runner derives a [`World`] from the component it loads and announces it; image
//! builds record it in a label, so the host can check arguments before any container exists.
//!
//! ```
//! use hoosegow_wire::types::{Func, Param, Type, World};
//!
//! let world = World {
//!     exports: vec![Func {
//!         name: "reverse".into(),
//!         params: vec![Param { name: "input".into(), ty: Type::String }],
//!         result: Some(Type::String),
//!     }],
//!     imports: vec![],
//! };
//! assert_eq!(world.export("reverse").unwrap().to_string(), "reverse: func(input: string) -> string");
//! assert_eq!(world.export_names(), vec!["reverse"]);
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// A WIT value type. Resources, streams and futures cannot cross the wall and have no case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Type {
    /// `bool`
    Bool,
    /// `s8`
    S8,
    /// `u8`
    U8,
    /// `s16`
    S16,
    /// `u16`
    U16,
    /// `s32`
    S32,
    /// `u32`
    U32,
    /// `s64`
    S64,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `char`
    Char,
    /// `string`
    String,
    /// `list<T>`
    List(Box<Type>),
    /// `record { ... }`, fields in declaration order.
    Record(Vec<Field>),
    /// `tuple<...>`
    Tuple(Vec<Type>),
    /// `variant { ... }`
    Variant(Vec<Case>),
    /// `enum { ... }`
    Enum(Vec<String>),
    /// `option<T>`
    Option(Box<Type>),
    /// `result<T, E>`, either side possibly without a payload.
    Result {
        /// The `ok` payload type, if any.
        ok: Option<Box<Type>>,
        /// The `err` payload type, if any.
        err: Option<Box<Type>>,
    },
    /// `flags { ... }`
    Flags(Vec<String>),
}

/// A record field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The field name as written in WIT (kebab-case).
    pub name: String,
    /// The field's type.
    pub ty: Type,
}

/// A variant case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The case name as written in WIT.
    pub name: String,
    /// The payload type, if the case has one.
    pub ty: Option<Type>,
}

/// A function parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The parameter name as written in WIT.
    pub name: String,
    /// The parameter's type.
    pub ty: Type,
}

/// A function crossing the wall: an export (called by the host) or an import (a callback).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Func {
    /// `name` for a function at the world's root, `interface#name` inside an interface.
    pub name: String,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// The result type; `None` for a function that returns nothing.
    pub result: Option<Type>,
}

/// The functions of an inmate's world that cross the wall.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// Exported functions: what the application can call.
    pub exports: Vec<Func>,
    /// Imported functions other than WASI: callbacks the application answers.
    pub imports: Vec<Func>,
}

impl World {
    /// The export named `name`.
    pub fn export(&self, name: &str) -> Option<&Func> {
        self.exports.iter().find(|f| f.name == name)
    }

    /// The import named `name`.
    pub fn import(&self, name: &str) -> Option<&Func> {
        self.imports.iter().find(|f| f.name == name)
    }

    /// The names of all exports, for error messages.
    pub fn export_names(&self) -> Vec<&str> {
        self.exports.iter().map(|f| f.name.as_str()).collect()
    }
}

impl fmt::Display for Type {
    /// WIT syntax, as a user would write the type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn names(f: &mut fmt::Formatter<'_>, names: &[String]) -> fmt::Result {
            write!(f, "{}", names.join(", "))
        }
        match self {
            Type::Bool => f.write_str("bool"),
            Type::S8 => f.write_str("s8"),
            Type::U8 => f.write_str("u8"),
            Type::S16 => f.write_str("s16"),
            Type::U16 => f.write_str("u16"),
            Type::S32 => f.write_str("s32"),
            Type::U32 => f.write_str("u32"),
            Type::S64 => f.write_str("s64"),
            Type::U64 => f.write_str("u64"),
            Type::F32 => f.write_str("f32"),
            Type::F64 => f.write_str("f64"),
            Type::Char => f.write_str("char"),
            Type::String => f.write_str("string"),
            Type::List(t) => write!(f, "list<{t}>"),
            Type::Option(t) => write!(f, "option<{t}>"),
            Type::Tuple(ts) => {
                f.write_str("tuple<")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(">")
            }
            Type::Result { ok, err } => match (ok, err) {
                (None, None) => f.write_str("result"),
                (Some(ok), None) => write!(f, "result<{ok}>"),
                (None, Some(err)) => write!(f, "result<_, {err}>"),
                (Some(ok), Some(err)) => write!(f, "result<{ok}, {err}>"),
            },
            Type::Record(fields) => {
                f.write_str("record { ")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", field.name, field.ty)?;
                }
                f.write_str(" }")
            }
            Type::Variant(cases) => {
                f.write_str("variant { ")?;
                for (i, case) in cases.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match &case.ty {
                        Some(t) => write!(f, "{}({t})", case.name)?,
                        None => f.write_str(&case.name)?,
                    }
                }
                f.write_str(" }")
            }
            Type::Enum(cases) => {
                f.write_str("enum { ")?;
                names(f, cases)?;
                f.write_str(" }")
            }
            Type::Flags(flags) => {
                f.write_str("flags { ")?;
                names(f, flags)?;
                f.write_str(" }")
            }
        }
    }
}

impl fmt::Display for Func {
    /// The function's WIT signature.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: func(", self.name)?;
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: {}", p.name, p.ty)?;
        }
        f.write_str(")")?;
        if let Some(result) = &self.result {
            write!(f, " -> {result}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_print_as_wit() {
        let t = Type::Result {
            ok: Some(Box::new(Type::List(Box::new(Type::Tuple(vec![
                Type::U8,
                Type::Char,
            ]))))),
            err: None,
        };
        assert_eq!(t.to_string(), "result<list<tuple<u8, char>>>");
        let v = Type::Variant(vec![
            Case {
                name: "none".into(),
                ty: None,
            },
            Case {
                name: "some".into(),
                ty: Some(Type::Option(Box::new(Type::F64))),
            },
        ]);
        assert_eq!(v.to_string(), "variant { none, some(option<f64>) }");
    }

    #[test]
    fn world_round_trips_through_json() {
        let world = World {
            exports: vec![Func {
                name: "api#go".into(),
                params: vec![],
                result: Some(Type::Flags(vec!["a".into(), "b".into()])),
            }],
            imports: vec![],
        };
        let json = serde_json::to_string(&world).unwrap();
        assert_eq!(serde_json::from_str::<World>(&json).unwrap(), world);
    }
}
