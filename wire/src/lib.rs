//! What crosses the wall between the Hoosegow host and the `jail-runner` inside a jail.
//!
//! Everything here is pure logic with no WebAssembly engine and no Docker, so both sides
//! share one definition and the host's decoders can be fuzzed on their own:
//!
//! - [`frame`]: length-prefixed, size-bounded frames on the runner's stdin/stdout;
//! - [`message`]: what each frame carries (handshake, calls, callbacks, results, failures);
//! - [`types`]: a description of an inmate's WIT world (its exports and imports);
//! - [`value`]: WIT values as JSON (the table in `DESIGN.md`), checked against those types.
//!
//! ```
//! use hoosegow_wire::{types::Type, value};
//! use serde_json::json;
//!
//! let list_of_u8 = Type::List(Box::new(Type::U8));
//! assert!(value::check(&list_of_u8, &json!([1, 2, 255]), "args[0]").is_ok());
//! let err = value::check(&list_of_u8, &json!([1, 256]), "args[0]").unwrap_err();
//! assert_eq!(err.to_string(), "args[0][1]: expected u8, got 256");
//! ```

pub mod frame;
pub mod message;
pub mod types;
pub mod value;
