//! Ephemeral mode, the gem's semantics: one container per call. The next container is
//! created and started ahead of time (the gem's `prestart`), off the caller's path, and
//! a used one is removed in the background.

use crate::call::CallOptions;
use crate::docker::cell::Cell;
use crate::docker::container::{ContainerSpec, Mode};
use crate::docker::image::ImageInfo;
use crate::error::Error;
use bollard::Docker;
use hoosegow_wire::types::Func;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

/// Containers started ahead of calls, and used ones being removed.
pub struct Ephemeral {
    prestart: usize,
    ready: Mutex<VecDeque<JoinHandle<Result<Cell, Error>>>>,
    closing: Mutex<JoinSet<()>>,
}

impl Ephemeral {
    /// Keeps `prestart` containers started ahead of calls (0: start one per call, on the
    /// caller's path).
    pub fn new(prestart: usize) -> Ephemeral {
        Ephemeral {
            prestart,
            ready: Mutex::new(VecDeque::new()),
            closing: Mutex::new(JoinSet::new()),
        }
    }

    /// Runs one call in a container of its own.
    pub async fn call(
        &self,
        docker: &Docker,
        image: &ImageInfo,
        spec: &ContainerSpec,
        func: &Func,
        args: Vec<Value>,
        options: &CallOptions,
    ) -> Result<(Value, String), Error> {
        let prestarted = self
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        self.refill(docker, image, spec);
        let mut cell = match prestarted {
            Some(starting) => match starting.await {
                Ok(Ok(cell)) => cell,
                // A prestart that failed (or a task that died) costs this call a cold
                // start, not an error: the failure may have been a passing one.
                _ => Cell::open(docker, image, spec, Mode::Ephemeral).await?,
            },
            None => Cell::open(docker, image, spec, Mode::Ephemeral).await?,
        };
        let result = cell.call(func, args, options).await;
        let served_by = cell.served_by().to_string();
        self.closing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(async move {
                if let Err(e) = cell.close().await {
                    tracing::warn!("{e}");
                }
            });
        result.map(|value| (value, served_by))
    }

    /// Starts containers until `prestart` are ready or on their way.
    pub fn refill(&self, docker: &Docker, image: &ImageInfo, spec: &ContainerSpec) {
        let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        while ready.len() < self.prestart {
            let (docker, image, spec) = (docker.clone(), image.clone(), spec.clone());
            ready.push_back(tokio::spawn(async move {
                Cell::open(&docker, &image, &spec, Mode::Ephemeral).await
            }));
        }
    }

    /// Removes the prestarted containers and waits for used ones to be gone.
    pub async fn cleanup(&self) -> Result<(), Error> {
        let ready: Vec<_> = self
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        let mut first_error = None;
        for starting in ready {
            if let Ok(Ok(cell)) = starting.await
                && let Err(e) = cell.close().await
            {
                first_error.get_or_insert(e);
            }
        }
        let mut closing =
            std::mem::take(&mut *self.closing.lock().unwrap_or_else(|e| e.into_inner()));
        while closing.join_next().await.is_some() {}
        first_error.map_or(Ok(()), Err)
    }
}
