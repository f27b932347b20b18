//! The Docker backend: two walls. Each call runs in a jail container of the image, whose
//! runner runs it in a fresh wasm instance; ephemeral mode uses a container per call,
//! pooled mode keeps warm ones.
//!
//! One module per Docker resource, as in bollard: [`endpoint`] (the daemon), [`image`],
//! [`container`]; then [`session`], the protocol over a container's attach stream (where a
//! call crosses the wall); [`cell`], a started container with its session; the two
//! lifecycles [`ephemeral`] and [`pool`]; and [`prune`] for leftovers.

pub mod cell;
pub mod container;
pub mod endpoint;
pub mod ephemeral;
pub mod image;
pub mod pool;
pub mod prune;
pub mod session;

use crate::call::CallOptions;
use crate::error::Error;
use bollard::Docker;
use container::ContainerSpec;
use endpoint::Endpoint;
use ephemeral::Ephemeral;
use hoosegow_wire::types::Func;
use image::ImageInfo;
use pool::{Pool, PoolConfig};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a Docker jail runs its calls' containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// A container per call, `prestart` of them started ahead of calls (the default: 1).
    Ephemeral {
        /// Containers kept started ahead of calls.
        prestart: usize,
    },
    /// Warm containers serving many calls each.
    Pooled(PoolConfig),
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle::Ephemeral { prestart: 1 }
    }
}

/// The containers of one Docker jail.
pub struct Containers {
    docker: Docker,
    endpoint: Endpoint,
    spec: ContainerSpec,
    running: Running,
}

enum Running {
    Ephemeral(Ephemeral),
    Pooled(Pool),
}

impl Containers {
    /// Containers for a jail on `docker` (reached at `endpoint`), made to `spec`, living
    /// by `lifecycle`. Each is labelled with an id of this jail's own.
    pub fn new(
        docker: Docker,
        endpoint: Endpoint,
        mut spec: ContainerSpec,
        lifecycle: &Lifecycle,
    ) -> Containers {
        static JAILS: AtomicU64 = AtomicU64::new(0);
        spec.jail_id = format!(
            "{}:{}",
            container::owner(),
            JAILS.fetch_add(1, Ordering::Relaxed)
        );
        let running = match lifecycle {
            Lifecycle::Ephemeral { prestart } => Running::Ephemeral(Ephemeral::new(*prestart)),
            Lifecycle::Pooled(config) => Running::Pooled(Pool::new(config.clone())),
        };
        Containers {
            docker,
            endpoint,
            spec,
            running,
        }
    }

    /// The daemon.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Starts containers ahead of calls (prestart, or filling the pool), in the background.
    pub fn warm(&self, image: &ImageInfo) {
        match &self.running {
            Running::Ephemeral(ephemeral) => ephemeral.refill(&self.docker, image, &self.spec),
            Running::Pooled(pool) => pool.warm(&self.docker, image, &self.spec),
        }
    }

    /// Runs one call; returns its value and the hostname of the container that ran it.
    pub async fn call(
        &self,
        image: &ImageInfo,
        func: &Func,
        args: Vec<Value>,
        options: &CallOptions,
    ) -> Result<(Value, String), Error> {
        let (docker, spec) = (&self.docker, &self.spec);
        match &self.running {
            Running::Ephemeral(ephemeral) => {
                ephemeral
                    .call(docker, image, spec, func, args, options)
                    .await
            }
            Running::Pooled(pool) => pool.call(docker, image, spec, func, args, options).await,
        }
    }

    /// Removes every container of the jail (prestarted, pooled, being retired).
    pub async fn cleanup(&self) -> Result<(), Error> {
        match &self.running {
            Running::Ephemeral(ephemeral) => ephemeral.cleanup().await,
            Running::Pooled(pool) => pool.cleanup().await,
        }
    }

    /// Removes every container labelled with this jail's id, blocking the calling thread
    /// until done (at most [`SWEEP_TIMEOUT`]).
    ///
    /// For when the jail's own runtime cannot do it: a drop on a current-thread runtime
    /// (which the drop itself blocks) or outside any runtime. The work runs on a thread of
    /// its own, with a runtime and a connection of its own, so nothing waits on the
    /// blocked one. It removes by force and runs no hooks.
    pub fn sweep_blocking(&self) {
        let (endpoint, jail_id) = (self.endpoint.clone(), self.spec.jail_id.clone());
        let (done, wait) = std::sync::mpsc::channel();
        let sweep = move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    return done.send(Err(Error::io("start a runtime to remove containers", e)));
                }
            };
            let removed = runtime.block_on(async {
                let docker = endpoint.connect().await?;
                prune::remove_jail(&docker, &jail_id).await
            });
            done.send(removed.map(|_| ()))
        };
        let outcome = match std::thread::Builder::new()
            .name("hoosegow-sweep".into())
            .spawn(sweep)
        {
            Ok(_) => wait.recv_timeout(SWEEP_TIMEOUT).ok(),
            Err(_) => None,
        };
        match outcome {
            Some(Ok(())) => {}
            Some(Err(e)) => tracing::warn!("{e}; `hoosegow prune` removes what is left"),
            None => tracing::warn!(
                "the jail's containers were not removed within {SWEEP_TIMEOUT:?}; `hoosegow prune` removes them"
            ),
        }
    }
}

/// How long dropping a jail may block to remove its containers.
pub const SWEEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
