//! Rust values to and from the JSON form of WIT values: the runtime behind the code that
//! [`crate::bindgen!`] generates.
//!
//! [`Lower`] turns a Rust value into its JSON form, [`Lift`] turns the JSON form back,
//! naming the path of anything that does not fit. The mapping is DESIGN.md's table, the
//! same one the dynamic [`crate::Hoosegow::call`] uses, so typed and untyped calls agree.
//!
//! ```
//! use hoosegow::typed::{Lift, Lower, Path};
//! use serde_json::json;
//!
//! let value: Option<Option<u8>> = Some(None);
//! assert_eq!(value.lower(), json!({"some": null}));
//! assert_eq!(Option::<Option<u8>>::lift(&json!({"some": null}), &Path::Root("r")).unwrap(), Some(None));
//! assert_eq!(f32::NAN.lower(), json!("NaN"));
//! let err = <(u8, String)>::lift(&json!([300, "x"]), &Path::Root("result")).unwrap_err();
//! assert_eq!(err.to_string(), "result[0]: expected u8, got 300");
//! ```

use crate::error::Error;
use hoosegow_wire::value::{self as wire};
pub use hoosegow_wire::value::{Path, ValueError};
pub use serde_json::Map;
use serde_json::Value;

/// A Rust value with a JSON form (the WIT ↔ JSON mapping).
pub trait Lower {
    /// `true` for `Option`: an option of an option wraps its payload in `{"some": ...}`.
    const IS_OPTION: bool = false;
    /// The JSON form.
    fn lower(&self) -> Value;
}

/// A Rust value that can be read back from its JSON form.
pub trait Lift: Sized {
    /// Reads the value at `path` out of `value`.
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError>;
}

fn expected(path: &Path<'_>, what: &str, got: &Value) -> ValueError {
    path.error(what, got)
}

macro_rules! integers {
    ($($t:ty => $name:literal),*) => {$(
        impl Lower for $t {
            fn lower(&self) -> Value {
                Value::from(*self)
            }
        }
        impl Lift for $t {
            fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
                let n = match value {
                    Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
                    _ => None,
                };
                n.and_then(|n| <$t>::try_from(n).ok()).ok_or_else(|| expected(path, $name, value))
            }
        }
    )*};
}
integers!(u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64", i8 => "s8", i16 => "s16", i32 => "s32", i64 => "s64");

impl Lower for f64 {
    fn lower(&self) -> Value {
        wire::float_value(*self)
    }
}

impl Lift for f64 {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        wire::float(value).ok_or_else(|| expected(path, "f64", value))
    }
}

impl Lower for f32 {
    fn lower(&self) -> Value {
        wire::float_value(f64::from(*self))
    }
}

impl Lift for f32 {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        wire::float(value)
            .map(|f| f as f32)
            .ok_or_else(|| expected(path, "f32", value))
    }
}

impl Lower for bool {
    fn lower(&self) -> Value {
        Value::Bool(*self)
    }
}

impl Lift for bool {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        value.as_bool().ok_or_else(|| expected(path, "bool", value))
    }
}

impl Lower for char {
    fn lower(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl Lift for char {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        wire::char(value).ok_or_else(|| expected(path, "char", value))
    }
}

impl Lower for str {
    fn lower(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl Lower for String {
    fn lower(&self) -> Value {
        Value::String(self.clone())
    }
}

impl Lift for String {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        value
            .as_str()
            .map(String::from)
            .ok_or_else(|| expected(path, "string", value))
    }
}

impl Lower for () {
    fn lower(&self) -> Value {
        Value::Null
    }
}

impl Lift for () {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        if value.is_null() {
            Ok(())
        } else {
            Err(expected(path, "null", value))
        }
    }
}

impl<T: Lower + ?Sized> Lower for &T {
    const IS_OPTION: bool = T::IS_OPTION;
    fn lower(&self) -> Value {
        (**self).lower()
    }
}

impl<T: Lower> Lower for [T] {
    fn lower(&self) -> Value {
        Value::Array(self.iter().map(Lower::lower).collect())
    }
}

impl<T: Lower> Lower for Vec<T> {
    fn lower(&self) -> Value {
        self.as_slice().lower()
    }
}

impl<T: Lift> Lift for Vec<T> {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        let items = value
            .as_array()
            .ok_or_else(|| expected(path, "list", value))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::lift(item, &Path::Index(path, i)))
            .collect()
    }
}

impl<T: Lower> Lower for Option<T> {
    const IS_OPTION: bool = true;
    fn lower(&self) -> Value {
        match self {
            None => Value::Null,
            Some(v) if T::IS_OPTION => tag("some", v.lower()),
            Some(v) => v.lower(),
        }
    }
}

impl<T: Lift + Lower> Lift for Option<T> {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            Value::Object(map) if T::IS_OPTION => match map.get("some") {
                Some(payload) if map.len() == 1 => {
                    T::lift(payload, &Path::Field(path, "some")).map(Some)
                }
                _ => Err(expected(path, r#"null or {"some": ...}"#, value)),
            },
            _ if T::IS_OPTION => Err(expected(path, r#"null or {"some": ...}"#, value)),
            v => T::lift(v, path).map(Some),
        }
    }
}

impl<T: Lower, E: Lower> Lower for Result<T, E> {
    fn lower(&self) -> Value {
        match self {
            Ok(v) => tag("ok", v.lower()),
            Err(e) => tag("err", e.lower()),
        }
    }
}

impl<T: Lift, E: Lift> Lift for Result<T, E> {
    fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
        match tagged(value, path)? {
            ("ok", payload) => {
                T::lift(payload.unwrap_or(&Value::Null), &Path::Field(path, "ok")).map(Ok)
            }
            ("err", payload) => {
                E::lift(payload.unwrap_or(&Value::Null), &Path::Field(path, "err")).map(Err)
            }
            _ => Err(expected(path, r#"{"ok": ...} or {"err": ...}"#, value)),
        }
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),+))*) => {$(
        impl<$($t: Lower),+> Lower for ($($t,)+) {
            fn lower(&self) -> Value {
                Value::Array(vec![$(self.$i.lower()),+])
            }
        }
        impl<$($t: Lift),+> Lift for ($($t,)+) {
            fn lift(value: &Value, path: &Path<'_>) -> Result<Self, ValueError> {
                const LEN: usize = [$($i),+].len();
                let items = value
                    .as_array()
                    .filter(|items| items.len() == LEN)
                    .ok_or_else(|| expected(path, &format!("a tuple of {LEN}"), value))?;
                Ok(($($t::lift(&items[$i], &Path::Index(path, $i))?,)+))
            }
        }
    )*};
}
tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// `{"name": payload}`, the JSON form of a variant case, result or nested option.
pub fn tag(name: &str, payload: Value) -> Value {
    let mut map = Map::new();
    map.insert(name.to_string(), payload);
    Value::Object(map)
}

/// A variant-like value's case name and payload.
pub fn tagged<'v>(
    value: &'v Value,
    path: &Path<'_>,
) -> Result<(&'v str, Option<&'v Value>), ValueError> {
    wire::tagged(value).ok_or_else(|| expected(path, r#""case" or {"case": payload}"#, value))
}

/// The object of a record.
pub fn object<'v>(value: &'v Value, path: &Path<'_>) -> Result<&'v Map<String, Value>, ValueError> {
    value
        .as_object()
        .ok_or_else(|| expected(path, "record", value))
}

/// A record field, lifted.
pub fn field<T: Lift>(
    object: &Map<String, Value>,
    name: &str,
    path: &Path<'_>,
) -> Result<T, ValueError> {
    let value = object.get(name).unwrap_or(&Value::Null);
    T::lift(value, &Path::Field(path, name))
}

/// A variant case's payload, lifted.
pub fn payload<T: Lift>(
    payload: Option<&Value>,
    case: &str,
    path: &Path<'_>,
) -> Result<T, ValueError> {
    let value =
        payload.ok_or_else(|| path.error(format!("case `{case}` with a payload"), &Value::Null))?;
    T::lift(value, &Path::Field(path, case))
}

/// An error for a case or flag name the type does not have.
pub fn unknown(path: &Path<'_>, what: &str, value: &Value) -> ValueError {
    expected(path, what, value)
}

/// The names of the set flags of a flags value.
pub fn flag_names<'v>(value: &'v Value, path: &Path<'_>) -> Result<Vec<&'v str>, ValueError> {
    let items = value
        .as_array()
        .ok_or_else(|| expected(path, "flags (an array of names)", value))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .ok_or_else(|| expected(&Path::Index(path, i), "a flag name", item))
        })
        .collect()
}

/// Lifts an export's result; a value that does not fit means the jail misbehaved.
pub fn lift_result<T: Lift>(value: &Value) -> Result<T, Error> {
    T::lift(value, &Path::Root("result")).map_err(|e| Error::Protocol {
        detail: format!("the result does not fit the generated bindings: {e}"),
    })
}

/// Lifts a callback's argument for the application's handler.
pub fn lift_arg<T: Lift>(args: &[Value], i: usize) -> Result<T, String> {
    let root = format!("args[{i}]");
    let value = args.get(i).ok_or_else(|| format!("missing {root}"))?;
    T::lift(value, &Path::Root(&root)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T: Lower + Lift + PartialEq + std::fmt::Debug>(value: T, json: Value) {
        assert_eq!(value.lower(), json);
        assert_eq!(T::lift(&json, &Path::Root("x")).unwrap(), value);
    }

    #[test]
    fn rust_values_round_trip_through_json() {
        round_trip(u64::MAX, json!(u64::MAX));
        round_trip(i64::MIN, json!(i64::MIN));
        round_trip(f64::INFINITY, json!("inf"));
        round_trip('🦀', json!("🦀"));
        round_trip(vec![Some(1u8), None], json!([1, null]));
        round_trip(Some(Some(3u8)), json!({"some": 3}));
        round_trip(Ok::<(), String>(()), json!({"ok": null}));
        round_trip(Err::<u8, String>("no".into()), json!({"err": "no"}));
        round_trip((1u8, 'a', "s".to_string()), json!([1, "a", "s"]));
        assert!(f32::lift(&json!("NaN"), &Path::Root("x")).unwrap().is_nan());
    }

    #[test]
    fn bad_values_name_their_path() {
        let err = Vec::<(u8, bool)>::lift(&json!([[1, true], [2, 3]]), &Path::Root("result"))
            .unwrap_err();
        assert_eq!(err.to_string(), "result[1][1]: expected bool, got 3");
        assert!(u8::lift(&json!(-1), &Path::Root("x")).is_err());
        assert!(i8::lift(&json!(-129), &Path::Root("x")).is_err());
    }
}
