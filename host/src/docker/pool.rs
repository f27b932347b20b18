//! Pooled mode: N long-lived containers, each serving calls one at a time, each call in
//! a fresh wasm instance. A container is replaced after any failed call (a trap, a limit,
//! a protocol error, a death) and after a set number of calls. Callers beyond N wait in
//! line, first come first served, up to a deadline.

use crate::call::CallOptions;
use crate::docker::cell::Cell;
use crate::docker::container::{ContainerSpec, Mode};
use crate::docker::image::ImageInfo;
use crate::error::Error;
use bollard::Docker;
use hoosegow_wire::types::Func;
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How a pool is sized and how long its members live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Containers in the pool, and so calls served at once.
    pub size: usize,
    /// Calls a container serves before it is replaced (default 10,000). Each call already
    /// runs in a fresh wasm instance; replacing the container bounds how long anything
    /// that got past the wasm wall could stay. A replacement costs the daemon about as
    /// much CPU as a hundred milliseconds of calls, so a small number costs throughput.
    pub calls_per_container: u32,
    /// How long a caller may wait for a free container.
    pub queue_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            size: 4,
            calls_per_container: 10_000,
            queue_timeout: Duration::from_secs(30),
        }
    }
}

/// The pool.
pub struct Pool {
    config: PoolConfig,
    /// One permit per container; tokio's semaphore queues waiters fairly.
    permits: Semaphore,
    members: Arc<Members>,
    background: Mutex<JoinSet<()>>,
}

/// The pool's containers: the idle ones, and a count of all of them (idle, busy, or
/// starting), which never exceeds the pool's size.
#[derive(Default)]
struct Members {
    idle: Mutex<Vec<Cell>>,
    count: Mutex<usize>,
    /// Signalled when a container becomes idle, or a start fails and frees a place.
    changed: Notify,
}

impl Members {
    fn idle(&self) -> MutexGuard<'_, Vec<Cell>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for a new member, if the pool has one.
    fn reserve(&self, size: usize) -> bool {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        if *count < size {
            *count += 1;
            true
        } else {
            false
        }
    }

    /// Gives back a member's place.
    fn release(&self) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        drop(count);
        self.changed.notify_one();
    }

    fn arrive(&self, cell: Cell) {
        self.idle().push(cell);
        self.changed.notify_one();
    }
}

impl Pool {
    /// A pool of `config.size` containers; [`Pool::warm`] starts them.
    pub fn new(config: PoolConfig) -> Pool {
        Pool {
            permits: Semaphore::new(config.size),
            config,
            members: Arc::default(),
            background: Mutex::new(JoinSet::new()),
        }
    }

    /// Starts containers in the background until the pool is full.
    pub fn warm(&self, docker: &Docker, image: &ImageInfo, spec: &ContainerSpec) {
        while self.members.reserve(self.config.size) {
            self.start(docker, image, spec);
        }
    }

    /// Runs one call on a pooled container.
    pub async fn call(
        &self,
        docker: &Docker,
        image: &ImageInfo,
        spec: &ContainerSpec,
        func: &Func,
        args: Vec<Value>,
        options: &CallOptions,
    ) -> Result<(Value, String), Error> {
        let deadline = Instant::now() + self.config.queue_timeout;
        let busy = || Error::PoolBusy {
            size: self.config.size,
            waited: self.config.queue_timeout,
        };
        let permit = tokio::time::timeout_at(deadline, self.permits.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| Error::Config("the jail is closed".into()))?;
        let mut cell = loop {
            if let Some(cell) = self.members.idle().pop() {
                break cell;
            }
            if self.members.reserve(self.config.size) {
                // Fewer members than places (one died or failed to start): start one here.
                match Cell::open(docker, image, spec, Mode::Pooled).await {
                    Ok(cell) => break cell,
                    Err(e) => {
                        self.members.release();
                        return Err(e);
                    }
                }
            }
            // Every member is busy or starting; holding a permit, one is ours when it arrives.
            tokio::time::timeout_at(deadline, self.members.changed.notified())
                .await
                .map_err(|_| busy())?;
        };
        let result = cell.call(func, args, options).await;
        let served_by = cell.served_by().to_string();
        if result.is_ok() && cell.calls() < self.config.calls_per_container {
            self.members.arrive(cell);
        } else {
            // Retire it off the caller's path, and start its successor.
            self.members.release();
            self.spawn(async move {
                if let Err(e) = cell.close().await {
                    tracing::warn!("{e}");
                }
            });
            self.warm(docker, image, spec);
        }
        drop(permit);
        result.map(|value| (value, served_by))
    }

    /// Starts one member, whose place is already reserved, in the background.
    fn start(&self, docker: &Docker, image: &ImageInfo, spec: &ContainerSpec) {
        let (docker, image, spec) = (docker.clone(), image.clone(), spec.clone());
        let members = self.members.clone();
        self.spawn(async move {
            match Cell::open(&docker, &image, &spec, Mode::Pooled).await {
                Ok(cell) => members.arrive(cell),
                Err(e) => {
                    // A waiting caller takes the free place and reports what stops it.
                    tracing::warn!("a pool container did not start: {e}");
                    members.release();
                }
            }
        });
    }

    /// Removes every idle container and waits for background work to finish.
    pub async fn cleanup(&self) -> Result<(), Error> {
        let mut background =
            std::mem::take(&mut *self.background.lock().unwrap_or_else(|e| e.into_inner()));
        while background.join_next().await.is_some() {}
        let idle: Vec<Cell> = self.members.idle().drain(..).collect();
        let mut first_error = None;
        for cell in idle {
            self.members.release();
            if let Err(e) = cell.close().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(task);
    }
}
