//! What one call's `Store` holds, the limits it enforces, and how a failed call is
//! explained: which limit it hit, which callback failed, or what trapped.

use crate::jail::Host;
use crate::output::{Output, Stream};
use hoosegow_wire::message::{Failure, FailureKind, Limit, LimitHit, Limits};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Trap, WasmBacktrace};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// The first limit a call ran into. Shared by everything that enforces one (the store's
/// limiter, the output sinks, the deadline), read once the call has failed.
#[derive(Default)]
pub(crate) struct Breach(Mutex<Option<LimitHit>>);

impl Breach {
    /// Records `hit` unless an earlier one was recorded: the first cause is the cause.
    pub(crate) fn record(&self, hit: LimitHit) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(hit);
    }

    fn get(&self) -> Option<LimitHit> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything one call's store holds.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: Limits,
    pub(crate) limiter: Limiter,
    pub(crate) host: Arc<dyn Host>,
    pub(crate) output: Arc<Output>,
    pub(crate) breach: Arc<Breach>,
    pub(crate) deadline: Instant,
    pub(crate) callbacks: u64,
    pub(crate) callback_failure: Option<(String, String)>,
}

impl State {
    pub(crate) fn new(host: Arc<dyn Host>, limits: &Limits) -> State {
        let breach = Arc::new(Breach::default());
        let output = Output::new(host.clone(), limits, breach.clone());
        // No preopens, environment, arguments or stdin: WasiCtxBuilder's defaults. Sockets
        // are turned off on top of the default that denies every address.
        let wasi = WasiCtxBuilder::new()
            .stdout(output.sink(Stream::Stdout))
            .stderr(output.sink(Stream::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                limits: limits.clone(),
                breach: breach.clone(),
            },
            limits: limits.clone(),
            host,
            output,
            breach,
            deadline: Instant::now() + Duration::from_millis(limits.timeout_ms),
            callbacks: 0,
            callback_failure: None,
        }
    }

    /// Starts the deadline now: for a store made ahead of its call.
    pub(crate) fn restart_deadline(&mut self) {
        self.deadline = Instant::now() + Duration::from_millis(self.limits.timeout_ms);
    }

    /// Called at each epoch tick: past the deadline, the call is interrupted.
    pub(crate) fn past_deadline(&self) -> bool {
        if Instant::now() < self.deadline {
            return false;
        }
        self.breach.record(self.limits.hit(Limit::Timeout));
        true
    }

    /// Counts a callback; past the limit, the inmate traps instead of calling out.
    pub(crate) fn count_callback(&mut self) -> Result<(), String> {
        self.callbacks += 1;
        if self.callbacks > self.limits.callbacks {
            let hit = self.limits.hit(Limit::Callbacks);
            self.breach.record(hit);
            return Err(format!("{hit} exceeded"));
        }
        Ok(())
    }

    /// Explains a failed call, most specific cause first.
    pub(crate) fn failure(&self, error: &wasmtime::Error) -> Failure {
        let backtrace = error
            .downcast_ref::<WasmBacktrace>()
            .map(|bt| {
                // One line per frame ("0: 0x1b3 - inmate.wasm!func"), without the heading.
                bt.to_string()
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let trap = error.downcast_ref::<Trap>();
        let hit = self.breach.get().or_else(|| match trap {
            Some(Trap::OutOfFuel) => Some(self.limits.hit(Limit::Fuel)),
            Some(Trap::StackOverflow) => Some(self.limits.hit(Limit::Stack)),
            _ => counted_resource(error).map(|limit| self.limits.hit(limit)),
        });
        let (kind, message) = if let Some((name, message)) = &self.callback_failure {
            (
                FailureKind::Callback,
                format!("callback `{name}` failed: {message}"),
            )
        } else if let Some(hit) = hit {
            (FailureKind::Limit, format!("the call exceeded its {hit}"))
        } else if let Some(panic) = self.output.panic_message() {
            (FailureKind::Panic, panic)
        } else if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            // WASI's `exit` (C's `exit()`, Ruby's `exit!`) ends the instance mid-call.
            (
                FailureKind::Trap,
                format!(
                    "the inmate exited with status {} in the middle of the call",
                    exit.0
                ),
            )
        } else {
            let message = match trap {
                Some(trap) => format!("wasm trap: {trap}"),
                None => format!("{error:#}"),
            };
            (FailureKind::Trap, message)
        };
        Failure {
            kind,
            message,
            backtrace,
            limit: hit,
        }
    }
}

/// wasmtime refuses instances, memories and tables past the limiter's counts with an
/// error rather than a callback; its message says which count.
fn counted_resource(error: &wasmtime::Error) -> Option<Limit> {
    let text = format!("{error:#}");
    let count = text.split("resource limit exceeded: ").nth(1)?;
    [
        ("instance", Limit::Instances),
        ("memory", Limit::Memories),
        ("table", Limit::Tables),
    ]
    .into_iter()
    .find(|(what, _)| count.starts_with(&format!("{what} count")))
    .map(|(_, limit)| limit)
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory, tables and instance counts, recording which cap was hit.
pub(crate) struct Limiter {
    limits: Limits,
    breach: Arc<Breach>,
}

impl Limiter {
    fn refuse(&self, limit: Limit, desired: usize) -> wasmtime::Result<bool> {
        let hit = self.limits.hit(limit);
        self.breach.record(hit);
        wasmtime::bail!("the inmate asked for {desired}, over its {hit}")
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limits.memory_bytes {
            return self.refuse(Limit::Memory, desired);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limits.table_elements {
            return self.refuse(Limit::TableElements, desired);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        usize::try_from(self.limits.instances).unwrap_or(usize::MAX)
    }

    fn tables(&self) -> usize {
        usize::try_from(self.limits.tables).unwrap_or(usize::MAX)
    }

    fn memories(&self) -> usize {
        usize::try_from(self.limits.memories).unwrap_or(usize::MAX)
    }
}
