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
use std::fmt;

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
    /// The inmate trapped: `unreachable`, an out-of-bounds access, a bad conversion.
    Trap,
    /// The inmate panicked (a trap that its runtime explained on stderr first).
    Panic,
    /// The call ran into one of its [`Limits`]; [`Failure::limit`] says which.
    Limit,
    /// A callback handler in the application failed.
    Callback,
    /// The call itself was malformed (unknown export, wrong arguments).
    BadCall,
    /// The runner could not load or verify its artifact, or broke down.
    Runner,
}

/// One of the limits a call runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// [`Limits::timeout_ms`]
    Timeout,
    /// [`Limits::memory_bytes`]
    Memory,
    /// [`Limits::fuel`]
    Fuel,
    /// The wasm stack (fixed by the engine, [`Limits`] cannot raise it).
    Stack,
    /// [`Limits::table_elements`]
    TableElements,
    /// [`Limits::instances`]
    Instances,
    /// [`Limits::tables`]
    Tables,
    /// [`Limits::memories`]
    Memories,
    /// [`Limits::stdout_bytes`]
    Stdout,
    /// [`Limits::stderr_bytes`]
    Stderr,
    /// [`Limits::argument_bytes`]
    ArgumentBytes,
    /// [`Limits::result_bytes`]
    ResultBytes,
    /// [`Limits::callbacks`]
    Callbacks,
}

impl Limit {
    /// The limit's name and the unit of its value, for messages.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Limit::Timeout => ("timeout", "ms"),
            Limit::Memory => ("memory", "bytes"),
            Limit::Fuel => ("fuel", "units"),
            Limit::Stack => ("wasm stack", "bytes"),
            Limit::TableElements => ("table size", "elements"),
            Limit::Instances => ("instance", "instances"),
            Limit::Tables => ("table count", "tables"),
            Limit::Memories => ("memory count", "memories"),
            Limit::Stdout => ("stdout", "bytes"),
            Limit::Stderr => ("stderr", "bytes"),
            Limit::ArgumentBytes => ("argument size", "bytes"),
            Limit::ResultBytes => ("result size", "bytes"),
            Limit::Callbacks => ("callback", "callbacks"),
        }
    }
}

/// A limit that a call ran into, with the value in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitHit {
    /// Which limit.
    pub limit: Limit,
    /// Its value for the call.
    pub value: u64,
}

impl fmt::Display for LimitHit {
    /// `timeout limit of 100 ms`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, unit) = self.limit.describe();
        write!(f, "{name} limit of {} {unit}", self.value)
    }
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
    /// For [`FailureKind::Limit`], the limit hit.
    #[serde(default)]
    pub limit: Option<LimitHit>,
}

/// Limits for one call. Each one, when hit, fails the call with [`FailureKind::Limit`]
/// naming it; the jail stays usable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Limits {
    /// Wall-clock deadline for the call, milliseconds.
    pub timeout_ms: u64,
    /// Maximum linear memory of each of the instance's memories, bytes.
    pub memory_bytes: u64,
    /// Fuel (roughly, wasm instructions) the call may burn; `None`: unmetered.
    pub fuel: Option<u64>,
    /// Maximum elements of any table.
    pub table_elements: u64,
    /// Maximum instances (component and core) the call may create.
    pub instances: u64,
    /// Maximum tables the call's instances may create.
    pub tables: u64,
    /// Maximum memories the call's instances may create.
    pub memories: u64,
    /// Maximum bytes the inmate may write to stdout in one call.
    pub stdout_bytes: u64,
    /// Maximum bytes the inmate may write to stderr in one call.
    pub stderr_bytes: u64,
    /// Maximum size of the call's arguments as JSON, bytes.
    pub argument_bytes: u64,
    /// Maximum size of the call's result as JSON, bytes.
    pub result_bytes: u64,
    /// Maximum callbacks the inmate may make in one call.
    pub callbacks: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout_ms: 10_000,
            memory_bytes: 256 << 20,
            fuel: None,
            table_elements: 100_000,
            instances: 100,
            tables: 100,
            memories: 100,
            stdout_bytes: 1 << 20,
            stderr_bytes: 1 << 20,
            argument_bytes: 16 << 20,
            result_bytes: 16 << 20,
            callbacks: 100_000,
        }
    }
}

impl Limits {
    /// The value in force for `limit` (the stack's is the engine's fixed one).
    pub fn value(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Timeout => self.timeout_ms,
            Limit::Memory => self.memory_bytes,
            Limit::Fuel => self.fuel.unwrap_or(u64::MAX),
            Limit::Stack => STACK_BYTES,
            Limit::TableElements => self.table_elements,
            Limit::Instances => self.instances,
            Limit::Tables => self.tables,
            Limit::Memories => self.memories,
            Limit::Stdout => self.stdout_bytes,
            Limit::Stderr => self.stderr_bytes,
            Limit::ArgumentBytes => self.argument_bytes,
            Limit::ResultBytes => self.result_bytes,
            Limit::Callbacks => self.callbacks,
        }
    }

    /// The hit of `limit` at its value in force.
    pub fn hit(&self, limit: Limit) -> LimitHit {
        LimitHit {
            limit,
            value: self.value(limit),
        }
    }
}

/// The wasm stack every call gets, bytes.
pub const STACK_BYTES: u64 = 1 << 20;
