//! Jail containers: created with the hardened defaults of DESIGN.md, labelled so that
//! leftovers can be found, and removed even when the caller goes away mid-call.

use crate::docker::image::ImageInfo;
use crate::error::{Error, JailEnd};
use bollard::Docker;
use bollard::container::AttachContainerResults;
use bollard::models::ContainerState;
use bollard::models::{ContainerCreateBody, HostConfig, ResourcesUlimits};
use bollard::query_parameters::WaitContainerOptions;
use bollard::query_parameters::{AttachContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

/// Label present on every jail container.
pub const LABEL_JAIL: &str = "hoosegow.jail";
/// Label naming the process that created the container (`<hostname>:<pid>`).
pub const LABEL_OWNER: &str = "hoosegow.owner";
/// Label naming the image.
pub const LABEL_IMAGE: &str = "hoosegow.image";

/// The container-level limits of a jail (the third wall's settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerLimits {
    /// Memory limit in bytes; swap is set equal, so there is no swap.
    pub memory_bytes: i64,
    /// CPU quota in billionths of a CPU (1_000_000_000 = one CPU).
    pub nano_cpus: i64,
    /// Maximum number of processes and threads.
    pub pids: i64,
    /// Maximum open file descriptors.
    pub nofile: i64,
}

impl Default for ContainerLimits {
    fn default() -> ContainerLimits {
        ContainerLimits {
            memory_bytes: 512 << 20,
            nano_cpus: 1_000_000_000,
            pids: 64,
            nofile: 64,
        }
    }
}

/// The creation request for a jail container of `image`.
pub fn config(image: &ImageInfo, limits: &ContainerLimits) -> ContainerCreateBody {
    let labels = HashMap::from([
        (LABEL_JAIL.to_string(), "1".to_string()),
        (LABEL_OWNER.to_string(), owner()),
        (LABEL_IMAGE.to_string(), image.name.clone()),
    ]);
    let ulimit = |name: &str, value: i64| ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(value),
        hard: Some(value),
    };
    ContainerCreateBody {
        image: Some(image.name.clone()),
        // The runner verifies its artifact against the hash the image was labelled with.
        cmd: Some(vec![
            "--artifact-sha256".into(),
            image.artifact_sha256.clone(),
        ]),
        user: Some("65534:65534".into()),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(true),
        // Closing our end of the attach stream ends the runner's stdin.
        stdin_once: Some(true),
        tty: Some(false),
        network_disabled: Some(true),
        env: Some(Vec::new()),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            readonly_rootfs: Some(true),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            privileged: Some(false),
            ipc_mode: Some("none".into()),
            pids_limit: Some(limits.pids),
            memory: Some(limits.memory_bytes),
            memory_swap: Some(limits.memory_bytes),
            nano_cpus: Some(limits.nano_cpus),
            ulimits: Some(vec![ulimit("nofile", limits.nofile), ulimit("core", 0)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `<hostname>:<pid>` of this process.
pub fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

/// A created jail container. Dropping it without [`Container::remove`] removes it in the
/// background, so a cancelled call leaves nothing behind.
pub struct Container {
    docker: Docker,
    id: Option<String>,
}

impl Container {
    /// Creates a container for `image`.
    pub async fn create(
        docker: &Docker,
        image: &ImageInfo,
        limits: &ContainerLimits,
    ) -> Result<Container, Error> {
        let created = docker
            .create_container(None, config(image, limits))
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => Error::ImageMissing {
                    image: image.name.clone(),
                },
                e => Error::docker(format!("create a container of {}", image.name), e),
            })?;
        Ok(Container {
            docker: docker.clone(),
            id: Some(created.id),
        })
    }

    /// The container id.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }

    /// Attaches to stdin/stdout/stderr; do this before [`Container::start`] so that no
    /// output is lost.
    pub async fn attach(&self) -> Result<AttachContainerResults, Error> {
        let options = AttachContainerOptionsBuilder::new()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        self.docker
            .attach_container(self.id(), Some(options))
            .await
            .map_err(|e| Error::docker("attach to a jail container", e))
    }

    /// Starts the container.
    pub async fn start(&self) -> Result<(), Error> {
        self.docker
            .start_container(self.id(), None)
            .await
            .map_err(|e| Error::docker("start a jail container", e))
    }

    /// How the container ended, once it has (waiting a little for Docker to notice).
    pub async fn end(&self) -> JailEnd {
        let mut wait = self
            .docker
            .wait_container(self.id(), None::<WaitContainerOptions>);
        let _ = tokio::time::timeout(Duration::from_secs(2), wait.next()).await;
        let Ok(inspected) = self.docker.inspect_container(self.id(), None).await else {
            return JailEnd::Unknown;
        };
        match inspected.state {
            Some(state) if state.oom_killed == Some(true) => JailEnd::OutOfMemory,
            Some(state) if state.running == Some(true) => JailEnd::Unresponsive,
            // 128 + SIGKILL: killed from outside the container.
            Some(state) if state.exit_code == Some(137) => JailEnd::Killed,
            Some(ContainerState {
                exit_code: Some(code),
                ..
            }) => JailEnd::Exited(code),
            _ => JailEnd::Unknown,
        }
    }

    /// Removes the container, killing it if it still runs.
    pub async fn remove(mut self) -> Result<(), Error> {
        match self.id.take() {
            Some(id) => remove(&self.docker, &id).await,
            None => Ok(()),
        }
    }
}

async fn remove(docker: &Docker, id: &str) -> Result<(), Error> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(Error::docker(format!("remove container {id}"), e)),
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let docker = self.docker.clone();
                runtime.spawn(async move {
                    if let Err(e) = remove(&docker, &id).await {
                        tracing::warn!("{e}");
                    }
                });
            }
            // No runtime left to remove it with: the label lets `hoosegow prune` find it.
            Err(_) => {
                tracing::warn!("jail container {id} left behind; `hoosegow prune` removes it")
            }
        }
    }
}
