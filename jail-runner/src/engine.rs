//! The wasmtime engine every jail runs on, and the clock that ends calls on time.
//!
//! A precompiled `.cwasm` loads only into an engine with the configuration it was compiled
//! with, so the host precompiles with [`new`] too: there is exactly one configuration.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances while a call runs: the granularity of deadlines.
pub const TICK: Duration = Duration::from_millis(1);

/// Largest linear memory any call may be given; per-call limits are at or below it.
pub const MAX_MEMORY_BYTES: usize = 4 << 30;

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
        .max_memory_size(MAX_MEMORY_BYTES);
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

/// Advances an engine's epoch every [`TICK`] while at least one call is running, and
/// sleeps otherwise, so an idle jail costs no CPU.
#[derive(Clone)]
pub struct Ticker {
    state: Arc<(Mutex<usize>, Condvar)>,
}

/// Held for the length of a call; the ticker runs while any is alive.
pub struct Running {
    ticker: Ticker,
}

impl Ticker {
    /// Starts the ticker thread for `engine`; it ends when the engine is dropped.
    pub fn start(engine: &Engine) -> Ticker {
        let state = Arc::new((Mutex::new(0usize), Condvar::new()));
        let weak: Weak<(Mutex<usize>, Condvar)> = Arc::downgrade(&state);
        let engine = engine.weak();
        std::thread::Builder::new()
            .name("hoosegow-epoch".into())
            .spawn(move || {
                loop {
                    let Some(state) = weak.upgrade() else { return };
                    let (lock, wake) = &*state;
                    let running = lock.lock().unwrap_or_else(|e| e.into_inner());
                    // Wait until a call runs; wake up now and then to notice a dropped ticker.
                    let (running, _) = wake
                        .wait_timeout_while(running, Duration::from_secs(1), |n| *n == 0)
                        .unwrap_or_else(|e| e.into_inner());
                    let busy = *running > 0;
                    drop(running);
                    drop(state);
                    if busy {
                        std::thread::sleep(TICK);
                        match engine.upgrade() {
                            Some(engine) => engine.increment_epoch(),
                            None => return,
                        }
                    }
                }
            })
            .expect("spawn the epoch thread");
        Ticker { state }
    }

    /// Marks a call as running until the returned guard is dropped.
    pub fn run(&self) -> Running {
        let (lock, wake) = &*self.state;
        let mut running = lock.lock().unwrap_or_else(|e| e.into_inner());
        *running += 1;
        // Only the first call wakes the thread: waking costs a syscall per call otherwise.
        if *running == 1 {
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
        *lock.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
    }
}
