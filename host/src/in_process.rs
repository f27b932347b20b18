//! The in-process backend: the runner's core inside the application's own process.
//!
//! One wall (wasm) instead of two: for development (the gem's `no_proxy`) and for machines
//! without Docker. An application chooses it explicitly, and it says so every time a jail
//! is built with it.

use crate::call::CallOptions;
use crate::error::Error;
use crate::precompiled;
use jail_runner::jail::sha256_hex;
use jail_runner::{Host, Jail, Stream};
use serde_json::Value;
use std::sync::Arc;
use std::sync::OnceLock;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Semaphore;
use wasmtime::Engine;

/// How many in-process calls run at once in this process, over all its in-process jails
/// (they share one engine and its instance pool); more wait for a slot.
pub const CONCURRENCY: u32 = 64;

/// The slots of [`CONCURRENCY`].
static SLOTS: Semaphore = Semaphore::const_new(CONCURRENCY as usize);

/// The warning logged when an in-process jail is built.
pub const WARNING: &str = "in-process jail: only the wasm wall is up (no container around it); \
                           use the Docker backend for untrusted code in production";

/// Compiles `wasm` (or finds it precompiled) into a jail running in this process.
pub fn load(wasm: &[u8]) -> Result<Jail, Error> {
    let engine = engine()?;
    let cwasm = precompiled::precompile(engine, wasm)?;
    Jail::load_precompiled(engine, &cwasm, &sha256_hex(&cwasm)).map_err(|e| Error::InmateRefused {
        detail: e.to_string(),
    })
}

/// The one engine of every in-process jail of this process: engines reserve address
/// space for their instance pools, so there is one, not one per jail.
fn engine() -> Result<&'static Engine, Error> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine);
    }
    let engine = jail_runner::engine::new(CONCURRENCY)
        .map_err(|e| Error::Config(format!("cannot start wasmtime: {e:#}")))?;
    Ok(ENGINE.get_or_init(|| engine))
}

/// Runs one call on a blocking thread; callbacks run on the caller's runtime.
pub async fn call(
    jail: Arc<Jail>,
    func: String,
    args: Vec<Value>,
    options: &CallOptions,
) -> Result<Value, Error> {
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|_| Error::Config("the jail is closed".into()))?;
    let host = Arc::new(AppHost {
        options: options.clone(),
        runtime: Handle::current(),
    });
    let limits = options.limits.clone();
    let name = func.clone();
    let run = move || jail.call(&func, &args, &limits, host);
    // The call blocks its thread until the inmate returns or its deadline passes. On a
    // multi-threaded runtime it runs right here, the runtime moving other tasks away
    // (no hand-off to another thread); a current-thread runtime must not be blocked, so
    // there it goes to the blocking pool.
    let outcome = match Handle::current().runtime_flavor() {
        RuntimeFlavor::MultiThread => tokio::task::block_in_place(run),
        _ => tokio::task::spawn_blocking(run)
            .await
            .map_err(|e| Error::Config(format!("the in-process call's thread failed: {e}")))?,
    };
    outcome.map_err(|failure| Error::from_failure(&name, failure))
}

/// The application, as the runner core sees it.
struct AppHost {
    options: CallOptions,
    runtime: Handle,
}

impl Host for AppHost {
    fn callback(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        // This runs on the call's blocking thread, so waiting for the handler here holds
        // up only the inmate, which is waiting for the answer anyway.
        self.runtime.block_on(self.options.answer(name, args))
    }

    fn output(&self, stream: Stream, bytes: &[u8]) {
        self.options.write(stream == Stream::Stderr, bytes);
    }
}
