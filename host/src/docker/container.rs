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
use std::sync::Arc;
use std::time::Duration;

/// Label present on every jail container.
pub const LABEL_JAIL: &str = "hoosegow.jail";
/// Label naming the process that created the container (`<hostname>:<pid>`).
pub const LABEL_OWNER: &str = "hoosegow.owner";
/// Label naming the image.
pub const LABEL_IMAGE: &str = "hoosegow.image";
/// Label naming the mode (`ephemeral` or `pooled`).
pub const LABEL_MODE: &str = "hoosegow.mode";
/// Label naming the jail (one [`crate::Hoosegow`] and its clones) a container belongs to.
pub const LABEL_JAIL_ID: &str = "hoosegow.jail-id";

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

/// Paths hidden from the jail: Docker's own default list (which `MaskedPaths` replaces
/// rather than extends) plus two kernel interfaces a process could otherwise write to:
/// pressure-stall triggers and the IPC namespace's POSIX message queues. A masked
/// directory is an empty read-only tmpfs, a masked file is `/dev/null`.
pub const MASKED_PATHS: [&str; 13] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/proc/pressure",
    "/dev/mqueue",
];

/// Paths mounted read-only: Docker's default list, which `ReadonlyPaths` replaces.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

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
            masked_paths: Some(MASKED_PATHS.map(String::from).to_vec()),
            readonly_paths: Some(READONLY_PATHS.map(String::from).to_vec()),
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

/// `<hostname>:<pid>:<start time>` of this process: the start time tells a live owner
/// from a later process that reuses its pid.
pub fn owner() -> String {
    let pid = std::process::id();
    format!(
        "{}:{pid}:{}",
        hostname(),
        start_time(pid).unwrap_or_default()
    )
}

/// This machine's hostname.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// When process `pid` started (clock ticks since boot), if it exists.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// How a jail runs its calls' containers; recorded in the `hoosegow.mode` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One container per call (the gem's semantics).
    Ephemeral,
    /// Long-lived containers, each serving many calls in fresh wasm instances.
    Pooled,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Ephemeral => "ephemeral",
            Mode::Pooled => "pooled",
        }
    }
}

/// What a hook is told about a container.
#[derive(Clone, Debug)]
pub struct ContainerInfo {
    /// The container id.
    pub id: String,
    /// The image it runs.
    pub image: String,
    /// The jail's mode.
    pub mode: Mode,
}

/// A function the application runs at a point of a container's life.
pub type Hook = Arc<dyn Fn(&ContainerInfo) + Send + Sync>;

/// The gem's `after_create`, `after_start` and `after_stop` hooks.
#[derive(Clone, Default)]
pub struct Hooks {
    pub(crate) after_create: Option<Hook>,
    pub(crate) after_start: Option<Hook>,
    pub(crate) after_stop: Option<Hook>,
}

impl Hooks {
    pub(crate) fn after_create(&self, info: &ContainerInfo) {
        if let Some(hook) = &self.after_create {
            hook(info);
        }
    }

    pub(crate) fn after_start(&self, info: &ContainerInfo) {
        if let Some(hook) = &self.after_start {
            hook(info);
        }
    }

    pub(crate) fn after_stop(&self, info: &ContainerInfo) {
        if let Some(hook) = &self.after_stop {
            hook(info);
        }
    }
}

/// Everything about a jail's containers the application can choose: limits, volumes,
/// hooks, a runtime, and a pass-through of other container-create fields.
#[derive(Clone, Default)]
pub struct ContainerSpec {
    /// Memory, CPU, process and file limits.
    pub limits: ContainerLimits,
    /// Host paths mapped in, read-only unless marked `rw`.
    pub volumes: Vec<Volume>,
    /// Hooks.
    pub hooks: Hooks,
    /// A container runtime other than Docker's default, e.g. gVisor's `runsc`.
    pub runtime: Option<String>,
    /// Other container-create fields (Docker API names, e.g. `{"HostConfig": {"Dns": [..]}}`),
    /// merged over the jail's own like the gem merged `HostConfig`.
    pub passthrough: Option<serde_json::Value>,
    /// The jail's id, put in the `hoosegow.jail-id` label (set by the jail; empty: none).
    pub jail_id: String,
}

/// A host path mapped into the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// Path on the host.
    pub host: String,
    /// Path inside the container.
    pub container: String,
    /// Whether the container may write to it.
    pub writable: bool,
}

impl std::str::FromStr for Volume {
    type Err = Error;

    /// `HOST:CONTAINER` (read-only) or `HOST:CONTAINER:rw`, as the gem's `volumes:`.
    fn from_str(spec: &str) -> Result<Volume, Error> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, container, writable) = match parts.as_slice() {
            [host, container] => (host, container, false),
            [host, container, "ro"] => (host, container, false),
            [host, container, "rw"] => (host, container, true),
            _ => {
                return Err(Error::Config(format!(
                    "volume `{spec}`: expected HOST:CONTAINER or HOST:CONTAINER:rw"
                )));
            }
        };
        if !host.starts_with('/') || !container.starts_with('/') {
            return Err(Error::Config(format!(
                "volume `{spec}`: both paths must be absolute"
            )));
        }
        Ok(Volume {
            host: host.to_string(),
            container: container.to_string(),
            writable,
        })
    }
}

impl ContainerSpec {
    /// The creation request for a container of `image` in `mode`: the hardened [`config`],
    /// then volumes, runtime and the pass-through. A pass-through that would make the
    /// container privileged or drop its seccomp or AppArmor profile is refused.
    pub fn body(&self, image: &ImageInfo, mode: Mode) -> Result<ContainerCreateBody, Error> {
        let mut body = config(image, &self.limits);
        if let Some(labels) = body.labels.as_mut() {
            labels.insert(LABEL_MODE.to_string(), mode.label().to_string());
            if !self.jail_id.is_empty() {
                labels.insert(LABEL_JAIL_ID.to_string(), self.jail_id.clone());
            }
        }
        let host = body.host_config.get_or_insert_with(Default::default);
        if !self.volumes.is_empty() {
            let binds = self.volumes.iter().map(|v| {
                let access = if v.writable { "rw" } else { "ro" };
                format!("{}:{}:{access}", v.host, v.container)
            });
            host.binds = Some(binds.collect());
        }
        if let Some(runtime) = &self.runtime {
            host.runtime = Some(runtime.clone());
        }
        if let Some(extra) = &self.passthrough {
            let mut merged = serde_json::to_value(&body).expect("a create body serializes");
            merge(&mut merged, extra);
            body = serde_json::from_value(merged).map_err(|e| {
                Error::Config(format!(
                    "the container pass-through does not fit Docker's API: {e}"
                ))
            })?;
            refuse_weakening(&body)?;
        }
        Ok(body)
    }
}

/// Merges `extra` into `base`: objects key by key, everything else replaced.
fn merge(base: &mut serde_json::Value, extra: &serde_json::Value) {
    match (base, extra) {
        (serde_json::Value::Object(base), serde_json::Value::Object(extra)) => {
            for (key, value) in extra {
                merge(
                    base.entry(key.clone()).or_insert(serde_json::Value::Null),
                    value,
                );
            }
        }
        (base, extra) => *base = extra.clone(),
    }
}

/// The walls a pass-through may not take down (DESIGN.md: never privileged, never
/// unconfined).
fn refuse_weakening(body: &ContainerCreateBody) -> Result<(), Error> {
    let host = body.host_config.as_ref();
    if host.and_then(|h| h.privileged) == Some(true) {
        return Err(Error::Config(
            "the container pass-through asks for a privileged container; a jail never is".into(),
        ));
    }
    let options = host
        .and_then(|h| h.security_opt.as_ref())
        .into_iter()
        .flatten();
    for option in options {
        if option.contains("unconfined") {
            return Err(Error::Config(format!(
                "the container pass-through asks for `{option}`; a jail keeps Docker's seccomp and AppArmor profiles"
            )));
        }
    }
    if !host
        .and_then(|h| h.security_opt.as_ref())
        .is_some_and(|o| o.iter().any(|o| o == "no-new-privileges"))
    {
        return Err(Error::Config(
            "the container pass-through removes no-new-privileges; a jail keeps it".into(),
        ));
    }
    // A pass-through may add masked or read-only paths, never drop one (a list it gives
    // replaces ours whole).
    let lists = [
        (
            "MaskedPaths",
            &MASKED_PATHS[..],
            host.and_then(|h| h.masked_paths.as_ref()),
        ),
        (
            "ReadonlyPaths",
            &READONLY_PATHS[..],
            host.and_then(|h| h.readonly_paths.as_ref()),
        ),
    ];
    for (field, ours, given) in lists {
        let given = given.map(Vec::as_slice).unwrap_or_default();
        if let Some(dropped) = ours.iter().find(|p| !given.iter().any(|g| g == *p)) {
            return Err(Error::Config(format!(
                "the container pass-through's {field} leaves out `{dropped}`; a jail keeps every path of hoosegow's list (add to it, do not replace it)"
            )));
        }
    }
    Ok(())
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
        body: &ContainerCreateBody,
        image: &str,
    ) -> Result<Container, Error> {
        let created = docker
            .create_container(None, body.clone())
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => Error::ImageMissing {
                    image: image.to_string(),
                },
                e => Error::docker(format!("create a container of {image}"), e),
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

/// Removes a container, retrying a few times: a loaded daemon can fail to kill a container
/// in time ("did not receive an exit event"), and a container left running is a leak.
async fn remove(docker: &Docker, id: &str) -> Result<(), Error> {
    const ATTEMPTS: u32 = 5;
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let mut attempt = 1;
    loop {
        match docker.remove_container(id, Some(options.clone())).await {
            Ok(()) => return Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            }) if status_code == 404
                // Someone else (a prune, a concurrent cleanup) is removing it already.
                || (status_code == 409 && message.contains("already in progress")) =>
            {
                return Ok(());
            }
            Err(e) if attempt == ATTEMPTS => {
                return Err(Error::docker(
                    format!("remove container {id} ({ATTEMPTS} attempts)"),
                    e,
                ));
            }
            Err(e) => {
                tracing::debug!("removing container {id} failed, retrying: {e}");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                attempt += 1;
            }
        }
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
