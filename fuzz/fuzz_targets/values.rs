//! `value::check`, the host's type check of every value that comes out of a jail, against
//! types built from the input and JSON values taken from it.
//!
//! The input's bytes up to the first NUL describe a WIT type (a small byte-driven
//! grammar, so that every input is some type); the rest is JSON text. Whatever the value,
//! `check` must not panic, a refusal must name a path inside the value, and an accepted
//! value must be accepted again after a JSON round trip.
#![no_main]

use hoosegow_wire::types::{Case, Field, Type};
use hoosegow_wire::value;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (shape, json) = data.split_at(split);
    let ty = ty(&mut shape.iter().copied(), 0);
    let Ok(v) = serde_json::from_slice::<Value>(json.get(1..).unwrap_or_default()) else {
        return;
    };
    let _ = ty.to_string();
    match value::check(&ty, &v, "x") {
        Ok(()) => {
            let again: Value = serde_json::from_str(&v.to_string()).unwrap();
            assert_eq!(again, v);
            value::check(&ty, &again, "x").unwrap();
        }
        Err(e) => {
            assert!(e.path.starts_with('x'), "{e}");
            assert!(e.got.len() <= 60, "{e}");
        }
    }
});

/// Names that collide with the JSON mapping's own keys, on purpose.
const NAMES: [&str; 8] = ["a", "b", "a-b", "some", "ok", "err", "none", "NaN"];

fn ty(bytes: &mut impl Iterator<Item = u8>, depth: u32) -> Type {
    let b = bytes.next().unwrap_or(0);
    let kinds = if depth >= 6 { 13 } else { 21 };
    let name = |b: u8| NAMES[usize::from(b) % NAMES.len()].to_string();
    let mut count = || usize::from(bytes.next().unwrap_or(0) % 4);
    match b % kinds {
        0 => Type::Bool,
        1 => Type::S8,
        2 => Type::U8,
        3 => Type::S16,
        4 => Type::U16,
        5 => Type::S32,
        6 => Type::U32,
        7 => Type::S64,
        8 => Type::U64,
        9 => Type::F32,
        10 => Type::F64,
        11 => Type::Char,
        12 => Type::String,
        13 => Type::List(Box::new(ty(bytes, depth + 1))),
        14 => Type::Option(Box::new(ty(bytes, depth + 1))),
        15 => {
            let n = count();
            Type::Tuple((0..n).map(|_| ty(bytes, depth + 1)).collect())
        }
        16 => {
            let n = count();
            Type::Record(
                (0..n)
                    .map(|i| Field {
                        name: name(i as u8),
                        ty: ty(bytes, depth + 1),
                    })
                    .collect(),
            )
        }
        17 => {
            let n = count() + 1;
            Type::Variant(
                (0..n)
                    .map(|i| {
                        let payload = bytes.next().unwrap_or(0) % 2 == 1;
                        Case {
                            name: name(i as u8 + 3),
                            ty: payload.then(|| ty(bytes, depth + 1)),
                        }
                    })
                    .collect(),
            )
        }
        18 => Type::Enum((0..count() + 1).map(|i| name(i as u8 + 3)).collect()),
        19 => Type::Flags((0..count() + 1).map(|i| name(i as u8)).collect()),
        _ => {
            let sides = bytes.next().unwrap_or(0);
            let side = |bytes: &mut _, on: bool| on.then(|| Box::new(ty(bytes, depth + 1)));
            let ok = side(bytes, sides & 1 == 1);
            let err = side(bytes, sides & 2 == 2);
            Type::Result { ok, err }
        }
    }
}
