//! WIT values as JSON, and the check of a JSON value against a WIT [`Type`].
//!
//! The mapping (DESIGN.md): numbers and bools as JSON numbers and bools, with NaN and the
//! infinities as the strings `"NaN"`, `"inf"`, `"-inf"`; chars and strings as strings; lists
//! and tuples as arrays; records as objects keyed by WIT field names; enums as the case name;
//! variants as `{"case": payload}` or `"case"`; options as `null` or the value (`{"some": v}`
//! when the payload is itself an option); results as `{"ok": v}` / `{"err": e}`; flags as
//! an array of the set names.
//!
//! [`check`] is what the host runs on every argument before sending it and on every value
//! that comes back out of a jail; the runner converts checked values into wasm values.
//!
//! ```
//! use hoosegow_wire::{types::Type, value};
//! use serde_json::json;
//!
//! let nested = Type::Option(Box::new(Type::Option(Box::new(Type::U32))));
//! value::check(&nested, &json!({"some": null}), "r").unwrap();
//! let err = value::check(&nested, &json!(7), "r").unwrap_err();
//! assert_eq!(err.to_string(), r#"r: expected option<option<u32>> as null or {"some": ...}, got 7"#);
//! ```

use crate::types::Type;
use serde_json::Value;
use std::fmt;

/// A JSON value that does not match its WIT type, with the path to the bad part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: expected {expected}, got {got}")]
pub struct ValueError {
    /// Where in the value, e.g. `args[0].items[3]`.
    pub path: String,
    /// What the type demanded.
    pub expected: String,
    /// A short rendering of what was there.
    pub got: String,
}

/// A location inside a value, built on the stack while checking and only rendered on error.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    /// The start, e.g. `args[0]` or `result`.
    Root(&'a str),
    /// An element of a list or tuple.
    Index(&'a Path<'a>, usize),
    /// A record field, variant case or `ok`/`err`/`some` payload.
    Field(&'a Path<'a>, &'a str),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
        }
    }
}

impl Path<'_> {
    /// An error at this path.
    pub fn error(&self, expected: impl fmt::Display, got: &Value) -> ValueError {
        ValueError {
            path: self.to_string(),
            expected: expected.to_string(),
            got: short(got),
        }
    }
}

/// At most 60 characters of a value's JSON, for messages.
fn short(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 60 {
        let mut cut = 57;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// Checks `value` against `ty`; `root` names the value in the error (`args[0]`, `result`).
pub fn check(ty: &Type, value: &Value, root: &str) -> Result<(), ValueError> {
    check_at(ty, value, &Path::Root(root))
}

/// Checks `value` against `ty` at `path`.
pub fn check_at(ty: &Type, value: &Value, path: &Path<'_>) -> Result<(), ValueError> {
    match ty {
        Type::Bool => value
            .as_bool()
            .map(drop)
            .ok_or_else(|| path.error(ty, value)),
        Type::S8 => int(value, i8::MIN as i64, i8::MAX as u64, ty, path),
        Type::U8 => int(value, 0, u8::MAX as u64, ty, path),
        Type::S16 => int(value, i16::MIN as i64, i16::MAX as u64, ty, path),
        Type::U16 => int(value, 0, u16::MAX as u64, ty, path),
        Type::S32 => int(value, i32::MIN as i64, i32::MAX as u64, ty, path),
        Type::U32 => int(value, 0, u32::MAX as u64, ty, path),
        Type::S64 => int(value, i64::MIN, i64::MAX as u64, ty, path),
        Type::U64 => int(value, 0, u64::MAX, ty, path),
        Type::F32 | Type::F64 => float(value).map(drop).ok_or_else(|| {
            path.error(format!(r#"{ty} (a number, "NaN", "inf" or "-inf")"#), value)
        }),
        Type::Char => char(value)
            .map(drop)
            .ok_or_else(|| path.error("char (a string of one character)", value)),
        Type::String => value
            .as_str()
            .map(drop)
            .ok_or_else(|| path.error(ty, value)),
        Type::List(element) => {
            let items = value.as_array().ok_or_else(|| path.error(ty, value))?;
            for (i, item) in items.iter().enumerate() {
                check_at(element, item, &Path::Index(path, i))?;
            }
            Ok(())
        }
        Type::Tuple(types) => {
            let items = value
                .as_array()
                .filter(|items| items.len() == types.len())
                .ok_or_else(|| path.error(format!("{ty} (an array of {})", types.len()), value))?;
            for (i, (t, item)) in types.iter().zip(items).enumerate() {
                check_at(t, item, &Path::Index(path, i))?;
            }
            Ok(())
        }
        Type::Record(fields) => {
            let object = value.as_object().ok_or_else(|| path.error(ty, value))?;
            for field in fields {
                let item = object.get(&field.name).ok_or_else(|| {
                    path.error(format!("{ty} with field `{}`", field.name), value)
                })?;
                check_at(&field.ty, item, &Path::Field(path, &field.name))?;
            }
            if let Some(extra) = object
                .keys()
                .find(|k| !fields.iter().any(|f| &f.name == *k))
            {
                return Err(path.error(format!("{ty} without field `{extra}`"), value));
            }
            Ok(())
        }
        Type::Variant(cases) => {
            let (name, payload) = tagged(value).ok_or_else(|| path.error(ty, value))?;
            let case = cases
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| path.error(ty, value))?;
            match (&case.ty, payload) {
                (None, None) => Ok(()),
                (Some(t), Some(payload)) => check_at(t, payload, &Path::Field(path, name)),
                (None, Some(_)) => Err(path.error(
                    format!("case `{name}` as \"{name}\" (it has no payload)"),
                    value,
                )),
                (Some(_), None) => {
                    Err(path.error(format!("case `{name}` as {{\"{name}\": payload}}"), value))
                }
            }
        }
        Type::Enum(names) => match value.as_str() {
            Some(name) if names.iter().any(|n| n == name) => Ok(()),
            _ => Err(path.error(ty, value)),
        },
        Type::Flags(names) => {
            let items = value.as_array().ok_or_else(|| path.error(ty, value))?;
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(flag) if names.iter().any(|n| n == flag) => {
                        if items[..i].contains(item) {
                            return Err(path.error(format!("{ty} with each flag once"), value));
                        }
                    }
                    _ => return Err(Path::Index(path, i).error(format!("a flag of {ty}"), item)),
                }
            }
            Ok(())
        }
        Type::Option(inner) => match option(inner, value) {
            Some(None) => Ok(()),
            Some(Some(payload)) => check_at(inner, payload, &Path::Field(path, "some")),
            None => Err(path.error(format!(r#"{ty} as null or {{"some": ...}}"#), value)),
        },
        Type::Result { ok, err } => {
            let (name, payload) = tagged(value)
                .filter(|(name, _)| *name == "ok" || *name == "err")
                .ok_or_else(|| {
                    path.error(format!(r#"{ty} as {{"ok": ...}} or {{"err": ...}}"#), value)
                })?;
            let expected = if name == "ok" { ok } else { err };
            match (expected, payload) {
                (None, None | Some(Value::Null)) => Ok(()),
                (Some(t), Some(payload)) => check_at(t, payload, &Path::Field(path, name)),
                (None, Some(_)) => Err(Path::Field(path, name).error("null (no payload)", value)),
                (Some(_), None) => {
                    Err(path.error(format!(r#"{ty} as {{"{name}": payload}}"#), value))
                }
            }
        }
    }
}

fn int(value: &Value, min: i64, max: u64, ty: &Type, path: &Path<'_>) -> Result<(), ValueError> {
    let fits = match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u <= max,
            (None, Some(i)) => i >= min,
            (None, None) => false,
        },
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(path.error(ty, value))
    }
}

/// A float from its JSON form: a number or one of `"NaN"`, `"inf"`, `"-inf"`.
pub fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON form of a float.
pub fn float_value(f: f64) -> Value {
    if f.is_nan() {
        Value::from("NaN")
    } else if f.is_infinite() {
        Value::from(if f > 0.0 { "inf" } else { "-inf" })
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// A char from its JSON form: a string of exactly one Unicode scalar value.
pub fn char(value: &Value) -> Option<char> {
    let mut chars = value.as_str()?.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

/// A variant-like value: `"name"` (no payload) or `{"name": payload}`.
pub fn tagged(value: &Value) -> Option<(&str, Option<&Value>)> {
    match value {
        Value::String(name) => Some((name, None)),
        Value::Object(map) if map.len() == 1 => {
            let (name, payload) = map.iter().next()?;
            Some((name, Some(payload)))
        }
        _ => None,
    }
}

/// An option's payload: `Some(None)` for none, `Some(Some(v))` for some(v), `None` if the
/// value is not of the form required when the payload type `inner` is itself an option.
pub fn option<'v>(inner: &Type, value: &'v Value) -> Option<Option<&'v Value>> {
    match value {
        Value::Null => Some(None),
        Value::Object(map) if matches!(inner, Type::Option(_)) => match map.get("some") {
            Some(payload) if map.len() == 1 => Some(Some(payload)),
            _ => None,
        },
        _ if matches!(inner, Type::Option(_)) => None,
        v => Some(Some(v)),
    }
}

/// The JSON form of an option, given its payload's JSON form.
pub fn option_value(inner: &Type, payload: Option<Value>) -> Value {
    match payload {
        None => Value::Null,
        Some(v) if matches!(inner, Type::Option(_)) => serde_json::json!({ "some": v }),
        Some(v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Case, Field};
    use serde_json::json;

    fn err(ty: &Type, v: Value) -> String {
        check(ty, &v, "args[0]").unwrap_err().to_string()
    }

    #[test]
    fn integers_are_checked_against_their_range() {
        check(&Type::U64, &json!(u64::MAX), "x").unwrap();
        check(&Type::S64, &json!(i64::MIN), "x").unwrap();
        assert_eq!(err(&Type::U8, json!(-1)), "args[0]: expected u8, got -1");
        assert_eq!(err(&Type::S8, json!(128)), "args[0]: expected s8, got 128");
        assert_eq!(
            err(&Type::U32, json!(1.5)),
            "args[0]: expected u32, got 1.5"
        );
        assert_eq!(
            err(&Type::U32, json!("x")),
            r#"args[0]: expected u32, got "x""#
        );
    }

    #[test]
    fn floats_take_numbers_and_the_three_special_strings() {
        for v in [
            json!(1.5),
            json!(-3),
            json!("NaN"),
            json!("inf"),
            json!("-inf"),
        ] {
            check(&Type::F64, &v, "x").unwrap();
        }
        assert!(check(&Type::F32, &json!("nan"), "x").is_err());
        assert!(float_value(f64::NAN) == json!("NaN"));
        assert_eq!(float_value(f64::NEG_INFINITY), json!("-inf"));
    }

    #[test]
    fn path_points_into_records_and_lists() {
        let ty = Type::Record(vec![Field {
            name: "items".into(),
            ty: Type::List(Box::new(Type::U32)),
        }]);
        assert_eq!(
            err(&ty, json!({"items": [1, 2, 3, "x"]})),
            r#"args[0].items[3]: expected u32, got "x""#
        );
        assert!(err(&ty, json!({})).contains("with field `items`"));
        assert!(err(&ty, json!({"items": [], "more": 1})).contains("without field `more`"));
    }

    #[test]
    fn variants_enums_flags_results() {
        let v = Type::Variant(vec![
            Case {
                name: "a".into(),
                ty: None,
            },
            Case {
                name: "b".into(),
                ty: Some(Type::String),
            },
        ]);
        check(&v, &json!("a"), "x").unwrap();
        check(&v, &json!({"b": "hi"}), "x").unwrap();
        assert!(err(&v, json!("b")).contains("as {\"b\": payload}"));
        assert!(err(&v, json!({"a": 1})).contains("has no payload"));
        assert!(check(&v, &json!("c"), "x").is_err());

        let e = Type::Enum(vec!["red".into()]);
        check(&e, &json!("red"), "x").unwrap();
        assert!(check(&e, &json!("blue"), "x").is_err());

        let f = Type::Flags(vec!["r".into(), "w".into()]);
        check(&f, &json!(["w", "r"]), "x").unwrap();
        assert!(check(&f, &json!(["r", "r"]), "x").is_err());
        assert_eq!(
            err(&f, json!(["x"])),
            r#"args[0][0]: expected a flag of flags { r, w }, got "x""#
        );

        let r = Type::Result {
            ok: None,
            err: Some(Box::new(Type::String)),
        };
        check(&r, &json!({"ok": null}), "x").unwrap();
        check(&r, &json!({"err": "no"}), "x").unwrap();
        assert!(check(&r, &json!({"ok": 1}), "x").is_err());
        assert!(check(&r, &json!({"Ok": null}), "x").is_err());
    }

    #[test]
    fn nested_options_need_the_some_wrapper() {
        let one = Type::Option(Box::new(Type::U8));
        check(&one, &json!(null), "x").unwrap();
        check(&one, &json!(3), "x").unwrap();
        let two = Type::Option(Box::new(one.clone()));
        check(&two, &json!({"some": 3}), "x").unwrap();
        check(&two, &json!({"some": null}), "x").unwrap();
        assert!(check(&two, &json!(3), "x").is_err());
        assert_eq!(option_value(&one, Some(json!(null))), json!({"some": null}));
    }

    #[test]
    fn chars_are_one_scalar_value() {
        check(&Type::Char, &json!("é"), "x").unwrap();
        check(&Type::Char, &json!("🦀"), "x").unwrap();
        assert!(check(&Type::Char, &json!("ab"), "x").is_err());
        assert!(check(&Type::Char, &json!(""), "x").is_err());
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let message = err(&Type::U8, json!("x".repeat(1000)));
        assert!(message.len() < 120, "{message}");
        assert!(message.ends_with("..."));
    }
}
