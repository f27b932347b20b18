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
use ephemeral::Ephemeral;
use hoosegow_wire::types::Func;
use image::ImageInfo;
use pool::{Pool, PoolConfig};
use serde_json::Value;

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
    spec: ContainerSpec,
    running: Running,
}

enum Running {
    Ephemeral(Ephemeral),
    Pooled(Pool),
}

impl Containers {
    /// Containers for a jail on `docker`, made to `spec`, living by `lifecycle`.
    pub fn new(docker: Docker, spec: ContainerSpec, lifecycle: &Lifecycle) -> Containers {
        let running = match lifecycle {
            Lifecycle::Ephemeral { prestart } => Running::Ephemeral(Ephemeral::new(*prestart)),
            Lifecycle::Pooled(config) => Running::Pooled(Pool::new(config.clone())),
        };
        Containers {
            docker,
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
}
