//! The wasmtime engine every jail runs on, and the clock that ends calls on time.
//!
//! A precompiled `.cwasm` loads only into an engine with the configuration it was compiled
//! with, so the host precompiles with [`new`] too: there is exactly one configuration.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances while a call runs: the granularity of deadlines.
pub const TICK: Duration = Duration::from_millis(1);

/// Largest linear memory any call may be given; per-call limits are at or below it.
pub const MAX_MEMORY_BYTES: usize = 4 << 30;

/// Bytes of each memory and table reset in place (kept resident) between calls.
pub const KEEP_RESIDENT: usize = 1 << 20;

/// An engine with Hoosegow's configuration, able to hold `concurrency` instances at once.
///
/// The runner serves one call at a time and passes a small number; the in-process
/// backend passes as many calls as it lets run in parallel.
pub fn new(concurrency: u32) -> wasmtime::Result<Engine> {
    Engine::new(&config(concurrency))
}

/// The configuration behind [`new`].
pub fn config(concurrency: u32) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(concurrency)
        .total_core_instances(concurrency * 16)
        .total_memories(concurrency * 4)
        .total_tables(concurrency * 16)
        .total_stacks(concurrency)
        .table_elements(100_000)
        .max_memory_size(MAX_MEMORY_BYTES)
        // A fresh instance per call means a memory reset per call. By default that is an
        // madvise of the whole memory, after which every page the next call touches
        // faults back in (and the madvise flushes TLBs on every core). Instead, find the
        // pages the call dirtied (Linux's PAGEMAP_SCAN, 6.7+; skipped where unsupported,
        // e.g. under gVisor) and zero up to KEEP_RESIDENT bytes of them in place: a call
        // of `reverse` goes from ~24 µs to ~10 µs. Memory a call leaves beyond it is
        // decommitted as before, so a memory bomb leaves nothing resident behind.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        // Deadlines: compiled code checks the epoch on loop back-edges and calls.
        .epoch_interruption(true)
        // Fuel is metered in every call so that a per-call fuel limit needs no other
        // artifact; a call without one gets u64::MAX.
        .consume_fuel(true)
        .max_wasm_stack(hoosegow_wire::message::STACK_BYTES as usize)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// How long the ticker goes on after the last call ends before it parks: calls in quick
/// succession then find it awake, instead of each paying a wake-up (a syscall and a
/// context switch on a machine whose cores are busy with the call itself).
pub const LINGER: Duration = Duration::from_millis(100);

/// Advances an engine's epoch every [`TICK`] while a call runs (and for [`LINGER`] after),
/// and parks otherwise, so an idle jail costs no CPU.
#[derive(Clone)]
pub struct Ticker {
    state: Arc<(Mutex<TickerState>, Condvar)>,
}

#[derive(Default)]
struct TickerState {
    running: usize,
    parked: bool,
}

/// Held for the length of a call; the ticker runs while any is alive.
pub struct Running {
    ticker: Ticker,
}

impl Ticker {
    /// Starts the ticker thread for `engine`; it ends when the engine is dropped.
    pub fn start(engine: &Engine) -> Ticker {
        let state = Arc::new((Mutex::new(TickerState::default()), Condvar::new()));
        let weak = Arc::downgrade(&state);
        let engine = engine.weak();
        let linger_ticks = (LINGER.as_micros() / TICK.as_micros()) as u32;
        std::thread::Builder::new()
            .name("hoosegow-epoch".into())
            .spawn(move || {
                let mut idle_ticks = 0u32;
                loop {
                    let Some(state) = weak.upgrade() else { return };
                    let (lock, wake) = &*state;
                    let mut ticker = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if ticker.running > 0 {
                        idle_ticks = 0;
                    } else if idle_ticks < linger_ticks {
                        idle_ticks += 1;
                    } else {
                        // Park until a call runs; wake now and then to notice a dropped ticker.
                        ticker.parked = true;
                        ticker = wake
                            .wait_timeout_while(ticker, Duration::from_secs(1), |t| t.running == 0)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                        ticker.parked = false;
                        if ticker.running == 0 {
                            continue;
                        }
                        idle_ticks = 0;
                    }
                    drop(ticker);
                    drop(state);
                    std::thread::sleep(TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })
            .expect("spawn the epoch thread");
        Ticker { state }
    }

    /// Marks a call as running until the returned guard is dropped.
    pub fn run(&self) -> Running {
        let (lock, wake) = &*self.state;
        let mut ticker = lock.lock().unwrap_or_else(|e| e.into_inner());
        ticker.running += 1;
        // Only a parked ticker needs waking; an awake one notices within a tick.
        if ticker.parked {
            wake.notify_one();
        }
        Running {
            ticker: self.clone(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let (lock, _) = &*self.ticker.state;
        lock.lock().unwrap_or_else(|e| e.into_inner()).running -= 1;
    }
}
