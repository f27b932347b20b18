//! The payloads of [`crate::frame`]s, as JSON.
//!
//! A session: the runner sends [`Hello`] (or a [`Failure`] for call 0 if it cannot load its
//! inmate). Then, for each call the host sends [`Call`]; the runner answers with any number
//! of stdout/stderr frames and [`Callback`]s (each answered by one [`Reply`]), and ends the
//! call with a `Return` (the result value) or a [`Failure`]. The host closes stdin to end
//! the session.

use crate::types::World;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this crate speaks; the host refuses a runner that speaks another.
pub const PROTOCOL_VERSION: u32 = 1;

/// The runner's first frame: who it is and what it hosts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the runner.
    pub protocol: u32,
    /// The runner's crate version, for diagnostics.
    pub runner: String,
    /// sha256 (hex) of the artifact the runner loaded and verified.
    pub artifact_sha256: String,
    /// The hosted world.
    pub world: World,
    /// The container's hostname (its short id under Docker), or the process's host.
    pub hostname: String,
}

/// host → runner: call an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The export's name as in [`World::exports`].
    pub func: String,
    /// One JSON value per parameter.
    pub args: Vec<Value>,
    /// Limits for this call.
    pub limits: Limits,
}

/// runner → host: the inmate called an import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    /// The import's name as in [`World::imports`].
    pub name: String,
    /// One JSON value per parameter.
    pub args: Vec<Value>,
}

/// host → runner: the application's answer to a [`Callback`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    /// The handler's return value (`null` for a function without a result).
    Ok(Value),
    /// The handler failed; the inmate traps with this message.
    Err(String),
}

/// Why a call (or the runner) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The inmate trapped: `unreachable`, an out-of-bounds access, a stack overflow.
    Trap,
    /// The inmate panicked (a trap that its runtime explained on stderr first).
    Panic,
    /// The call ran past its deadline.
    Timeout,
    /// The inmate tried to grow memory, tables or instances past their limit.
    ResourceLimit,
    /// The inmate wrote more than its stdout or stderr allowance.
    OutputLimit,
    /// A callback handler in the application failed.
    Callback,
    /// The call itself was malformed (unknown export, wrong arguments).
    BadCall,
    /// The runner could not load or verify its artifact, or broke down.
    Runner,
}

/// runner → host: a call (or the runner) failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened, for a person.
    pub message: String,
    /// The wasm backtrace, innermost frame first, if there is one.
    #[serde(default)]
    pub backtrace: Vec<String>,
}

/// Limits for one call. Zero means "no limit" for none of them: every limit is real.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Limits {
    /// Wall-clock deadline for the call, milliseconds.
    pub timeout_ms: u64,
    /// Maximum linear memory of the instance, bytes.
    pub memory_bytes: u64,
    /// Maximum bytes the inmate may write to stdout in one call.
    pub stdout_bytes: u64,
    /// Maximum bytes the inmate may write to stderr in one call.
    pub stderr_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout_ms: 10_000,
            memory_bytes: 256 << 20,
            stdout_bytes: 1 << 20,
            stderr_bytes: 1 << 20,
        }
    }
}
