//! Hoosegow's integration tests: one binary (to link once), one module per suite.
//!
//! Everything here runs against the real thing: a Docker daemon, the static runner in a
//! real `FROM scratch` image, and components built from `inmates/`. `cargo xtask test` sets
//! up a fresh machine for them (Rust targets, musl tools, a Docker engine).

mod support;

mod bad_input;
mod callbacks;
mod endpoints;
mod faults;
mod hardening;
mod kitchen_sink;
mod languages;
mod lifecycle;
mod probe;
mod reverse;
mod walls;
