//! The runner core: hosts one inmate component in wasmtime and runs each call in a fresh
//! instance, behind the wasm wall of `DESIGN.md`.
//!
//! The `jail-runner` binary serves this core over framed stdin/stdout inside a container
//! ([`serve`]); the host library's in-process backend calls it directly. Both see the same
//! [`Jail`]: one sandbox implementation, two ways to reach it.
//!
//! - [`engine`]: the one wasmtime configuration (artifacts precompiled with it load only
//!   into engines made with it) and the epoch ticker behind deadlines;
//! - [`world`]: what an inmate exports and imports, and the refusal of what cannot cross;
//! - [`val`]: JSON values to wasm values and back;
//! - [`jail`]: loading, and one call in a fresh store;
//! - `link`: what the inmate's imports are linked to (WASI, `hoosegow:jail/log`, callbacks);
//! - `store`: what a call's store holds and enforces, and how a failure is explained;
//! - [`output`]: the inmate's stdout and stderr, counted and forwarded;
//! - [`serve`]: the frame loop the binary runs.

pub mod engine;
pub mod jail;
mod link;
pub mod output;
pub mod serve;
mod store;
pub mod val;
pub mod world;

pub use jail::{Host, Jail, LoadError};
pub use output::Stream;
