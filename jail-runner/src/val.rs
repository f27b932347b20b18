//! JSON values (DESIGN.md's mapping) to wasmtime component values and back, driven by the
//! wire [`Type`]. Conversion into wasm checks as it goes, so a value that reaches an inmate
//! has its exact type even if the host's own check was skipped.

use hoosegow_wire::types::Type;
use hoosegow_wire::value::{self, Path, ValueError};
use serde_json::{Map, Value};
use wasmtime::component::Val;

/// Converts a JSON value of type `ty` into a wasm value; errors name the path.
pub fn to_val(ty: &Type, json: &Value, path: &Path<'_>) -> Result<Val, ValueError> {
    // The JSON checker owns every rule; conversion below may assume a well-formed value.
    value::check_at(ty, json, path)?;
    Ok(convert(ty, json))
}

fn convert(ty: &Type, json: &Value) -> Val {
    let int = || json.as_i64().unwrap_or_default();
    let float = || value::float(json).unwrap_or_default();
    match ty {
        Type::Bool => Val::Bool(json.as_bool().unwrap_or_default()),
        Type::S8 => Val::S8(int() as i8),
        Type::U8 => Val::U8(int() as u8),
        Type::S16 => Val::S16(int() as i16),
        Type::U16 => Val::U16(int() as u16),
        Type::S32 => Val::S32(int() as i32),
        Type::U32 => Val::U32(int() as u32),
        Type::S64 => Val::S64(int()),
        Type::U64 => Val::U64(json.as_u64().unwrap_or_default()),
        Type::F32 => Val::Float32(float() as f32),
        Type::F64 => Val::Float64(float()),
        Type::Char => Val::Char(value::char(json).unwrap_or_default()),
        Type::String => Val::String(json.as_str().unwrap_or_default().to_string()),
        Type::List(element) => Val::List(items(json).iter().map(|v| convert(element, v)).collect()),
        Type::Tuple(types) => Val::Tuple(
            types
                .iter()
                .zip(items(json))
                .map(|(t, v)| convert(t, v))
                .collect(),
        ),
        Type::Record(fields) => Val::Record(
            fields
                .iter()
                .map(|f| (f.name.clone(), convert(&f.ty, &json[f.name.as_str()])))
                .collect(),
        ),
        Type::Variant(cases) => {
            let (name, payload) = value::tagged(json).unwrap_or_default();
            let case_ty = cases
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| c.ty.as_ref());
            let payload = case_ty.zip(payload).map(|(t, v)| Box::new(convert(t, v)));
            Val::Variant(name.to_string(), payload)
        }
        Type::Enum(_) => Val::Enum(json.as_str().unwrap_or_default().to_string()),
        Type::Flags(_) => Val::Flags(
            items(json)
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
        ),
        Type::Option(inner) => {
            let payload = value::option(inner, json).flatten();
            Val::Option(payload.map(|v| Box::new(convert(inner, v))))
        }
        Type::Result { ok, err } => {
            let (name, payload) = value::tagged(json).unwrap_or_default();
            let side = if name == "ok" { ok } else { err };
            let payload = side
                .as_deref()
                .zip(payload)
                .map(|(t, v)| Box::new(convert(t, v)));
            Val::Result(if name == "ok" {
                Ok(payload)
            } else {
                Err(payload)
            })
        }
    }
}

fn items(json: &Value) -> &[Value] {
    json.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Converts a wasm value produced by the inmate into JSON.
///
/// wasmtime has already lifted the value against the component's type, so its shape is
/// the declared one; `ty` is needed for what JSON cannot infer (nested options).
pub fn from_val(ty: &Type, val: &Val) -> Value {
    match (ty, val) {
        (_, Val::Bool(b)) => Value::Bool(*b),
        (_, Val::S8(n)) => Value::from(*n),
        (_, Val::U8(n)) => Value::from(*n),
        (_, Val::S16(n)) => Value::from(*n),
        (_, Val::U16(n)) => Value::from(*n),
        (_, Val::S32(n)) => Value::from(*n),
        (_, Val::U32(n)) => Value::from(*n),
        (_, Val::S64(n)) => Value::from(*n),
        (_, Val::U64(n)) => Value::from(*n),
        (_, Val::Float32(f)) => value::float_value(f64::from(*f)),
        (_, Val::Float64(f)) => value::float_value(*f),
        (_, Val::Char(c)) => Value::String(c.to_string()),
        (_, Val::String(s)) => Value::String(s.clone()),
        (Type::List(element), Val::List(items)) => {
            Value::Array(items.iter().map(|v| from_val(element, v)).collect())
        }
        (Type::Tuple(types), Val::Tuple(items)) => Value::Array(
            types
                .iter()
                .zip(items)
                .map(|(t, v)| from_val(t, v))
                .collect(),
        ),
        (Type::Record(fields), Val::Record(items)) => Value::Object(
            fields
                .iter()
                .zip(items)
                .map(|(f, (_, v))| (f.name.clone(), from_val(&f.ty, v)))
                .collect::<Map<_, _>>(),
        ),
        (Type::Variant(cases), Val::Variant(name, payload)) => {
            let case_ty = cases
                .iter()
                .find(|c| &c.name == name)
                .and_then(|c| c.ty.as_ref());
            match case_ty.zip(payload.as_deref()) {
                Some((t, v)) => tag(name, from_val(t, v)),
                None => Value::String(name.clone()),
            }
        }
        (_, Val::Enum(name)) => Value::String(name.clone()),
        (_, Val::Flags(names)) => Value::Array(names.iter().cloned().map(Value::String).collect()),
        (Type::Option(inner), Val::Option(payload)) => {
            value::option_value(inner, payload.as_deref().map(|v| from_val(inner, v)))
        }
        (Type::Result { ok, err }, Val::Result(result)) => {
            let (name, side, payload) = match result {
                Ok(payload) => ("ok", ok, payload),
                Err(payload) => ("err", err, payload),
            };
            let inner = side
                .as_deref()
                .zip(payload.as_deref())
                .map(|(t, v)| from_val(t, v));
            tag(name, inner.unwrap_or(Value::Null))
        }
        // Types the world refuses never reach here; anything else is a runner bug, and a
        // value the host will reject with a type error rather than a crash.
        _ => Value::Null,
    }
}

fn tag(name: &str, payload: Value) -> Value {
    let mut map = Map::new();
    map.insert(name.to_string(), payload);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoosegow_wire::types::{Case, Field};
    use serde_json::json;

    fn round_trip(ty: &Type, json: Value) {
        let val = to_val(ty, &json, &Path::Root("x")).unwrap();
        assert_eq!(from_val(ty, &val), json, "{ty}");
    }

    #[test]
    fn every_type_round_trips() {
        round_trip(&Type::U64, json!(u64::MAX));
        round_trip(&Type::S64, json!(i64::MIN));
        round_trip(&Type::S8, json!(-128));
        round_trip(&Type::F32, json!("NaN"));
        round_trip(&Type::F64, json!("-inf"));
        round_trip(&Type::F64, json!(0.1));
        round_trip(&Type::Char, json!("🦀"));
        let record = Type::Record(vec![
            Field {
                name: "a-b".into(),
                ty: Type::List(Box::new(Type::U8)),
            },
            Field {
                name: "c".into(),
                ty: Type::Tuple(vec![Type::Bool, Type::String]),
            },
        ]);
        round_trip(&record, json!({"a-b": [1, 2], "c": [true, "x"]}));
        let variant = Type::Variant(vec![
            Case {
                name: "none".into(),
                ty: None,
            },
            Case {
                name: "some".into(),
                ty: Some(record.clone()),
            },
        ]);
        round_trip(&variant, json!("none"));
        round_trip(&variant, json!({"some": {"a-b": [], "c": [false, ""]}}));
        let nested = Type::Option(Box::new(Type::Option(Box::new(Type::U8))));
        round_trip(&nested, json!(null));
        round_trip(&nested, json!({"some": null}));
        round_trip(&nested, json!({"some": 3}));
        let result = Type::Result {
            ok: None,
            err: Some(Box::new(Type::Enum(vec!["e".into()]))),
        };
        round_trip(&result, json!({"ok": null}));
        round_trip(&result, json!({"err": "e"}));
        round_trip(
            &Type::Flags(vec!["r".into(), "w".into()]),
            json!(["r", "w"]),
        );
    }

    #[test]
    fn bad_values_never_convert() {
        let err = to_val(
            &Type::List(Box::new(Type::U32)),
            &json!([1, "x"]),
            &Path::Root("args[0]"),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), r#"args[0][1]: expected u32, got "x""#);
    }
}
