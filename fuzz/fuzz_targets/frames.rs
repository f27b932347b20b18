//! The host's side of a session, fed what a hostile runner could write to its stdout.
//!
//! The input's first byte picks how the stream is cut (Docker's attach stream cuts it
//! anywhere); the rest is the stream. The target decodes it whole and in pieces, asserts
//! both agree and that every frame re-encodes to the bytes it came from, then handles each
//! frame as `host/src/docker/session.rs` does: `Hello`, `Failure` and `Callback` payloads
//! parsed strictly, callback arguments and results checked against the announced world.
#![no_main]

use hoosegow_wire::frame::{Decoder, Frame, FrameError, Kind};
use hoosegow_wire::message::{Call, Callback, Failure, Hello, Reply};
use hoosegow_wire::types::World;
use hoosegow_wire::value;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;

/// Small, so that inputs reach the bound often (the host's is 64 MiB).
const MAX_PAYLOAD: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let whole = decode(stream, stream.len().max(1));
    let pieces = decode(stream, usize::from(cut % 16) + 1);
    assert_eq!(whole, pieces, "decoding depends on where the stream is cut");
    let bytes: Vec<u8> = whole.0.iter().flat_map(Frame::encode).collect();
    assert!(stream.starts_with(&bytes), "a frame does not re-encode to its bytes");

    let mut world = World::default();
    for frame in &whole.0 {
        handle(&mut world, frame);
    }
});

/// Frames until the first error, and that error (or the end-of-stream verdict).
fn decode(stream: &[u8], chunk: usize) -> (Vec<Frame>, Option<FrameError>) {
    let mut decoder = Decoder::new(MAX_PAYLOAD);
    let mut frames = Vec::new();
    for piece in stream.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.payload.len() <= MAX_PAYLOAD);
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, decoder.finish().err())
}

fn handle(world: &mut World, frame: &Frame) {
    match frame.kind {
        Kind::Hello => {
            if let Some(hello) = parse::<Hello>(&frame.payload) {
                // Error messages print signatures: they must print for any world.
                for func in hello.world.exports.iter().chain(&hello.world.imports) {
                    let _ = func.to_string();
                }
                *world = hello.world;
            }
        }
        Kind::Failure => {
            if let Some(failure) = parse::<Failure>(&frame.payload) {
                let _ = failure.message.len() + failure.backtrace.len();
            }
        }
        Kind::Callback => {
            if let Some(callback) = parse::<Callback>(&frame.payload)
                && let Some(import) = world.import(&callback.name)
            {
                for (i, (param, arg)) in import.params.iter().zip(&callback.args).enumerate() {
                    checked(&param.ty, arg, &format!("args[{i}]"));
                }
            }
        }
        Kind::Return => {
            if let Some(result) = parse::<Value>(&frame.payload) {
                for ty in world.exports.iter().filter_map(|f| f.result.as_ref()) {
                    checked(ty, &result, "result");
                }
            }
        }
        // What the runner reads: it trusts its stdin no more than the host trusts stdout.
        Kind::Call => drop(parse::<Call>(&frame.payload)),
        Kind::Reply => drop(parse::<Reply>(&frame.payload)),
        Kind::Stdout | Kind::Stderr => {}
    }
}

/// A message, if the payload is one; what parses must serialize and parse back the same.
fn parse<T: DeserializeOwned + Serialize + PartialEq + Debug>(payload: &[u8]) -> Option<T> {
    let message: T = serde_json::from_slice(payload).ok()?;
    let again: T = serde_json::from_slice(&serde_json::to_vec(&message).unwrap()).unwrap();
    assert_eq!(message, again, "a message does not round-trip");
    Some(message)
}

/// Checks a value; an accepted value must still be accepted after a JSON round trip, and a
/// refusal's message must stay short whatever the value.
fn checked(ty: &hoosegow_wire::types::Type, v: &Value, root: &str) {
    match value::check(ty, v, root) {
        Ok(()) => {
            let again: Value = serde_json::from_str(&v.to_string()).unwrap();
            assert_eq!(&again, v);
            value::check(ty, &again, root).unwrap();
        }
        Err(e) => assert!(e.got.len() <= 60, "`got` is bounded: {}", e.got.len()),
    }
}
