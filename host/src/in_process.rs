//! The in-process backend: the runner's core inside the application's own process.
//!
//! One wall (wasm) instead of two: for development (the gem's `no_proxy`) and for machines
//! without Docker. An application chooses it explicitly, and it says so every time a jail
//! is built with it.

use crate::call::CallOptions;
use crate::error::Error;
use jail_runner::{Host, Jail, Stream};
use serde_json::Value;
use std::sync::Arc;
use tokio::runtime::Handle;

/// How many calls one in-process jail runs at once; more wait for a slot.
pub const CONCURRENCY: u32 = 64;

/// The warning logged when an in-process jail is built.
pub const WARNING: &str = "in-process jail: only the wasm wall is up (no container around it); \
                           use the Docker backend for untrusted code in production";

/// Compiles `wasm` into a jail running in this process.
pub fn load(wasm: &[u8]) -> Result<Jail, Error> {
    let engine = jail_runner::engine::new(CONCURRENCY)
        .map_err(|e| Error::Config(format!("cannot start wasmtime: {e:#}")))?;
    Jail::compile(&engine, wasm).map_err(|e| Error::InmateRefused {
        detail: e.to_string(),
    })
}

/// Runs one call on a blocking thread; callbacks run on the caller's runtime.
pub async fn call(
    jail: Arc<Jail>,
    slots: &tokio::sync::Semaphore,
    func: String,
    args: Vec<Value>,
    options: &CallOptions,
) -> Result<Value, Error> {
    let _slot = slots
        .acquire()
        .await
        .map_err(|_| Error::Config("the jail is closed".into()))?;
    let host = Arc::new(AppHost {
        options: options.clone(),
        runtime: Handle::current(),
    });
    let limits = options.limits.clone();
    let name = func.clone();
    let outcome = tokio::task::spawn_blocking(move || jail.call(&func, &args, &limits, host))
        .await
        .map_err(|e| Error::Config(format!("the in-process call's thread failed: {e}")))?;
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
