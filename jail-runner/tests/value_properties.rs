//! Bounded property tests of the value check on both sides of the wall: the host's
//! `value::check` (run on every argument, result and callback value) and the runner's
//! `val::to_val` (which turns checked JSON into wasm values).
//!
//! Random WIT types; for each, a valid value in the mapping's canonical form and mutants of
//! it, plus unrelated random JSON. Asserted: nothing panics; `check` and `to_val` accept and
//! refuse exactly the same values with the same error; a refusal's path starts at the
//! root and its rendering of the value stays short; valid values round-trip through JSON
//! text and through wasm values unchanged; whatever `to_val` accepts comes back out of
//! `from_val` as a value `check` accepts.
//!
//! Seeded: `HOOSEGOW_PROPERTY_SEED` and `HOOSEGOW_PROPERTY_CASES` replay or widen a run; a
//! failure names the seed of its case. `cargo xtask fuzz` explores `check` unbounded.

use hoosegow_wire::types::{Case, Field, Type};
use hoosegow_wire::value::{self, Path};
use jail_runner::val::{from_val, to_val};
use serde_json::{Map, Value, json};
use std::panic::AssertUnwindSafe;

/// SplitMix64: small, seedable, good enough to pick test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

/// Runs `cases` seeded cases; a failing case panics with its seed.
fn for_each_case(default_cases: u64, mut case: impl FnMut(&mut Rng)) {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let base = env("HOOSEGOW_PROPERTY_SEED").unwrap_or(0x5eed_f4a3);
    let cases = env("HOOSEGOW_PROPERTY_CASES").unwrap_or(default_cases);
    for i in 0..cases {
        let seed = base.wrapping_add(i);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| case(&mut Rng(seed))));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "case {i} failed; replay with HOOSEGOW_PROPERTY_SEED={seed} \
                 HOOSEGOW_PROPERTY_CASES=1: {message}"
            );
        }
    }
}

/// Names that collide with the mapping's own words on purpose.
const NAMES: [&str; 9] = ["a", "b", "a-b", "some", "ok", "err", "none", "NaN", "inf"];

/// `n` distinct names (WIT requires distinct fields, cases and flags).
fn names(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut pool: Vec<&str> = NAMES.to_vec();
    (0..n.min(pool.len()))
        .map(|_| {
            pool.swap_remove(rng.below(pool.len() as u64) as usize)
                .to_string()
        })
        .collect()
}

fn random_type(rng: &mut Rng, depth: u32) -> Type {
    let kinds = if depth >= 4 { 13 } else { 21 };
    let inner = |rng: &mut Rng| Box::new(random_type(rng, depth + 1));
    match rng.below(kinds) {
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
        13 => Type::List(inner(rng)),
        14 => Type::Option(inner(rng)),
        15 => {
            let n = rng.below(4);
            Type::Tuple((0..n).map(|_| random_type(rng, depth + 1)).collect())
        }
        16 => {
            let n = rng.below(4) as usize;
            Type::Record(
                names(rng, n)
                    .into_iter()
                    .map(|name| Field {
                        name,
                        ty: random_type(rng, depth + 1),
                    })
                    .collect(),
            )
        }
        17 => {
            let n = 1 + rng.below(4) as usize;
            Type::Variant(
                names(rng, n)
                    .into_iter()
                    .map(|name| Case {
                        name,
                        ty: rng.percent(60).then(|| random_type(rng, depth + 1)),
                    })
                    .collect(),
            )
        }
        18 => {
            let n = 1 + rng.below(4) as usize;
            Type::Enum(names(rng, n))
        }
        19 => {
            let n = 1 + rng.below(4) as usize;
            Type::Flags(names(rng, n))
        }
        _ => Type::Result {
            ok: rng.percent(60).then(|| inner(rng)),
            err: rng.percent(60).then(|| inner(rng)),
        },
    }
}

fn random_string(rng: &mut Rng) -> String {
    let n = rng.below(6);
    (0..n)
        .map(|_| match rng.below(4) {
            0 => rng.pick(&['"', '\\', '\0', '\n', '/']),
            1 => rng.pick(&['é', '🦀', '\u{ffff}', '\u{10ffff}', 'ß']),
            _ => (b'a' + rng.below(26) as u8) as char,
        })
        .collect()
}

fn random_char(rng: &mut Rng) -> char {
    loop {
        let candidate = match rng.below(3) {
            0 => rng.below(128) as u32,
            1 => rng.below(0x1_0000) as u32,
            _ => rng.below(0x11_0000) as u32,
        };
        if let Some(c) = char::from_u32(candidate) {
            return c;
        }
    }
}

fn int(rng: &mut Rng, min: i128, max: i128) -> Value {
    let n = match rng.below(4) {
        0 => min,
        1 => max,
        2 => 0,
        _ => min + (rng.next() as i128).rem_euclid(max - min + 1),
    };
    if n < 0 {
        json!(n as i64)
    } else {
        json!(n as u64)
    }
}

fn float(rng: &mut Rng, single: bool) -> Value {
    match rng.below(8) {
        0 => json!("NaN"),
        1 => json!("inf"),
        2 => json!("-inf"),
        _ => {
            let f = if single {
                f64::from(f32::from_bits(rng.next() as u32))
            } else {
                f64::from_bits(rng.next())
            };
            if f.is_finite() {
                value::float_value(f)
            } else {
                json!(0.5)
            }
        }
    }
}

/// A valid value of `ty` in the mapping's canonical form, the form `from_val` produces.
fn valid(rng: &mut Rng, ty: &Type) -> Value {
    match ty {
        Type::Bool => json!(rng.percent(50)),
        Type::S8 => int(rng, i8::MIN.into(), i8::MAX.into()),
        Type::U8 => int(rng, 0, u8::MAX.into()),
        Type::S16 => int(rng, i16::MIN.into(), i16::MAX.into()),
        Type::U16 => int(rng, 0, u16::MAX.into()),
        Type::S32 => int(rng, i32::MIN.into(), i32::MAX.into()),
        Type::U32 => int(rng, 0, u32::MAX.into()),
        Type::S64 => int(rng, i64::MIN.into(), i64::MAX.into()),
        Type::U64 => int(rng, 0, u64::MAX.into()),
        Type::F32 => float(rng, true),
        Type::F64 => float(rng, false),
        Type::Char => json!(random_char(rng).to_string()),
        Type::String => json!(random_string(rng)),
        Type::List(element) => {
            let n = rng.below(4);
            Value::Array((0..n).map(|_| valid(rng, element)).collect())
        }
        Type::Tuple(types) => Value::Array(types.iter().map(|t| valid(rng, t)).collect()),
        Type::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|f| (f.name.clone(), valid(rng, &f.ty)))
                .collect(),
        ),
        Type::Variant(cases) => {
            let case = rng.pick(cases);
            match &case.ty {
                None => json!(case.name),
                Some(t) => tag(&case.name, valid(rng, t)),
            }
        }
        Type::Enum(names) => json!(rng.pick(names)),
        Type::Flags(names) => Value::Array(
            names
                .iter()
                .filter(|_| rng.percent(50))
                .map(|n| json!(n))
                .collect(),
        ),
        Type::Option(inner) => {
            let payload = rng.percent(60).then(|| valid(rng, inner));
            value::option_value(inner, payload)
        }
        Type::Result { ok, err } => {
            let (name, side) = if rng.percent(50) {
                ("ok", ok)
            } else {
                ("err", err)
            };
            let payload = side.as_ref().map_or(Value::Null, |t| valid(rng, t));
            tag(name, payload)
        }
    }
}

fn tag(name: &str, payload: Value) -> Value {
    Value::Object(Map::from_iter([(name.to_string(), payload)]))
}

/// JSON of any shape, often close to what the mapping uses.
fn random_json(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 3 { 8 } else { 11 }) {
        0 => Value::Null,
        1 => json!(rng.percent(50)),
        2 => rng.pick(&[
            json!(-1),
            json!(256),
            json!(65536),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
            json!(4294967296u64),
            json!(-129),
        ]),
        3 => json!(rng.next() as i64),
        4 => rng.pick(&[
            json!("NaN"),
            json!("inf"),
            json!("-inf"),
            json!("nan"),
            json!(""),
            json!("ab"),
        ]),
        5 => json!(rng.pick(&NAMES)),
        6 => json!(random_string(rng)),
        7 => json!(random_char(rng).to_string()),
        8 => {
            let n = rng.below(4);
            Value::Array((0..n).map(|_| random_json(rng, depth + 1)).collect())
        }
        9 => tag(rng.pick(&NAMES), random_json(rng, depth + 1)),
        _ => {
            let n = rng.below(4);
            Value::Object(
                (0..n)
                    .map(|_| (rng.pick(&NAMES).to_string(), random_json(rng, depth + 1)))
                    .collect(),
            )
        }
    }
}

/// `v` with one node, picked at random, replaced or damaged.
fn mutate(rng: &mut Rng, v: &Value) -> Value {
    let mut out = v.clone();
    let mut node = &mut out;
    // Walk down a random path, stopping at random.
    loop {
        let children = match node {
            Value::Array(items) if !items.is_empty() => items.len(),
            Value::Object(map) if !map.is_empty() => map.len(),
            _ => 0,
        };
        if children == 0 || rng.percent(35) {
            break;
        }
        let i = rng.below(children as u64) as usize;
        node = match node {
            Value::Array(items) => &mut items[i],
            Value::Object(map) => map.values_mut().nth(i).unwrap(),
            _ => unreachable!(),
        };
    }
    match (rng.below(5), &mut *node) {
        (0, Value::Array(items)) if !items.is_empty() => {
            // Drop or duplicate an element: wrong tuple arity, repeated flag.
            let i = rng.below(items.len() as u64) as usize;
            if rng.percent(50) {
                items.remove(i);
            } else {
                let copy = items[i].clone();
                items.push(copy);
            }
        }
        (1, Value::Object(map)) => {
            // An extra key, or one taken away.
            if rng.percent(50) && !map.is_empty() {
                let key = map.keys().next().unwrap().clone();
                map.remove(&key);
            } else {
                map.insert(rng.pick(&NAMES).to_string(), random_json(rng, 3));
            }
        }
        _ => *node = random_json(rng, 2),
    }
    out
}

/// The properties every (type, value) pair must have, valid or not.
fn agree(ty: &Type, v: &Value) {
    let checked = value::check(ty, v, "args[0]");
    let converted = to_val(ty, v, &Path::Root("args[0]"));
    match (&checked, &converted) {
        (Ok(()), Ok(val)) => {
            // Whatever the runner accepts and hands to wasm comes back as a value the host
            // accepts.
            let back = from_val(ty, val);
            value::check(ty, &back, "result").unwrap_or_else(|e| {
                panic!("{ty}: {v} went in, {back} came out, and the check refuses it: {e}")
            });
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{ty}: the two sides explain {v} differently");
            assert!(a.path.starts_with("args[0]"), "{a}");
            assert!(a.got.chars().count() <= 60, "{a}");
        }
        _ => panic!("{ty}: check says {checked:?}, to_val says {converted:?} for {v}"),
    }
}

#[test]
fn valid_values_pass_both_sides_and_round_trip_unchanged() {
    for_each_case(3000, |rng| {
        let ty = random_type(rng, 0);
        let v = valid(rng, &ty);
        value::check(&ty, &v, "args[0]")
            .unwrap_or_else(|e| panic!("{ty}: a valid value {v} is refused: {e}"));
        let text = serde_json::to_string(&v).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, v, "{ty}: JSON text round trip of {text}");
        let val = to_val(&ty, &v, &Path::Root("args[0]"))
            .unwrap_or_else(|e| panic!("{ty}: to_val refuses {v}: {e}"));
        assert_eq!(from_val(&ty, &val), v, "{ty}: wasm value round trip");
        agree(&ty, &v);
    });
}

#[test]
fn damaged_values_are_judged_alike_by_host_and_runner_and_never_panic() {
    for_each_case(3000, |rng| {
        let ty = random_type(rng, 0);
        let v = valid(rng, &ty);
        for _ in 0..4 {
            let damaged = mutate(rng, &v);
            agree(&ty, &damaged);
            // A damaged value still round-trips as JSON text (floats included).
            let parsed: Value = serde_json::from_str(&damaged.to_string()).unwrap();
            assert_eq!(parsed, damaged);
        }
        agree(&ty, &random_json(rng, 0));
    });
}

#[test]
fn refusals_are_short_and_point_into_the_value() {
    let ty = Type::List(Box::new(Type::Record(vec![Field {
        name: "a-b".into(),
        ty: Type::U8,
    }])));
    let huge = "x".repeat(1 << 20);
    let v = json!([{"a-b": 1}, {"a-b": huge}]);
    let e = value::check(&ty, &v, "result").unwrap_err();
    assert_eq!(e.path, "result[1].a-b");
    assert!(e.got.len() <= 60 && e.to_string().len() < 200, "{e}");
    agree(&ty, &v);
}
