//! [`Hoosegow`]: a handle to a jail, and its [`Builder`].

use crate::bundle::Bundle;
use crate::call::CallOptions;
use crate::docker::container::{ContainerInfo, ContainerLimits, ContainerSpec, Volume};
use crate::docker::endpoint::Endpoint;
use crate::docker::image::{self, ImageInfo};
use crate::docker::pool::PoolConfig;
use crate::docker::prune;
use crate::docker::{Containers, Lifecycle};
use crate::error::Error;
use crate::{in_process, inmate};
use bollard::Docker;
use hoosegow_wire::message::{Limit, Limits};
use hoosegow_wire::types::{Func, World};
use hoosegow_wire::value;
use jail_runner::Jail;
use jail_runner::jail::json_len;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// A jail for one inmate. Cheap to clone; clones share the jail.
///
/// Build one with [`Hoosegow::builder`]:
///
/// ```no_run
/// # async fn demo() -> Result<(), hoosegow::Error> {
/// use hoosegow::Hoosegow;
/// use serde_json::json;
///
/// let jail = Hoosegow::builder()
///     .inmate_dir("inmates/reverse")
///     .image_name(std::env::var("HOOSEGOW_IMAGE").ok())
///     .build()
///     .await?;
/// jail.build_image(|line| eprintln!("{line}")).await?; // once, ahead of time
/// assert_eq!(jail.call("reverse", vec![json!("foobar")]).await?, json!("raboof"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Hoosegow {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    inmate_dir: Option<PathBuf>,
    runner_binary: Option<PathBuf>,
    image_name: Option<String>,
    bundle: OnceCell<Arc<Bundle>>,
    options: CallOptions,
}

enum Backend {
    Docker {
        containers: Arc<Containers>,
        image: OnceCell<ImageInfo>,
    },
    InProcess {
        jail: Arc<Jail>,
    },
}

/// Configures a [`Hoosegow`] jail.
#[derive(Default)]
#[must_use]
pub struct Builder {
    inmate_dir: Option<PathBuf>,
    image_name: Option<String>,
    endpoint: Endpoint,
    runner_binary: Option<PathBuf>,
    in_process: bool,
    options: CallOptions,
    volumes: Vec<String>,
    spec: ContainerSpec,
    lifecycle: Lifecycle,
}

impl Builder {
    /// The inmate's folder (the gem's `inmate_dir`): its WIT world and its source.
    pub fn inmate_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.inmate_dir = Some(dir.into());
        self
    }

    /// The image to run. `None` (the default) means the `HOOSEGOW_IMAGE` environment
    /// variable if set, otherwise `hoosegow:<sha256 of the image's contents>`.
    pub fn image_name(mut self, name: impl Into<Option<String>>) -> Self {
        self.image_name = name.into();
        self
    }

    /// The Docker daemon (default: `DOCKER_HOST`, else the default Unix socket).
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// The static `jail-runner` binary to put in images (default: `HOOSEGOW_RUNNER`).
    pub fn runner_binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.runner_binary = Some(path.into());
        self
    }

    /// Runs the inmate inside this process instead of in containers: one wall (wasm)
    /// instead of two. Needs [`Builder::inmate_dir`]. Logs a warning when built.
    pub fn in_process(mut self) -> Self {
        self.in_process = true;
        self
    }

    /// Default limits for every call.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.options = self.options.limits(limits);
        self
    }

    /// Default call options (output writers, callbacks, limits) for every call.
    pub fn options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// Container limits (memory, CPU, processes, files).
    pub fn container_limits(mut self, limits: ContainerLimits) -> Self {
        self.spec.limits = limits;
        self
    }

    /// One container per call (the default), with `prestart` containers started ahead of
    /// calls, off the callers' path (the gem's `prestart`; default 1, 0 turns it off).
    pub fn ephemeral(mut self, prestart: usize) -> Self {
        self.lifecycle = Lifecycle::Ephemeral { prestart };
        self
    }

    /// Warm containers serving many calls each, in fresh wasm instances.
    pub fn pooled(mut self, config: PoolConfig) -> Self {
        self.lifecycle = Lifecycle::Pooled(config);
        self
    }

    /// Maps a host path into the containers: `HOST:CONTAINER` read-only, or
    /// `HOST:CONTAINER:rw` (the gem's `volumes:`). Checked when the jail is built.
    pub fn volume(mut self, spec: impl Into<String>) -> Self {
        self.volumes.push(spec.into());
        self
    }

    /// Runs `hook` after each container is created (the gem's `after_create`).
    pub fn after_create(mut self, hook: impl Fn(&ContainerInfo) + Send + Sync + 'static) -> Self {
        self.spec.hooks.after_create = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` after each container is started (the gem's `after_start`).
    pub fn after_start(mut self, hook: impl Fn(&ContainerInfo) + Send + Sync + 'static) -> Self {
        self.spec.hooks.after_start = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` after each container is stopped and removed (the gem's `after_stop`).
    pub fn after_stop(mut self, hook: impl Fn(&ContainerInfo) + Send + Sync + 'static) -> Self {
        self.spec.hooks.after_stop = Some(Arc::new(hook));
        self
    }

    /// Runs the containers under another OCI runtime, e.g. gVisor's `runsc` (a third wall).
    pub fn runtime(mut self, runtime: impl Into<String>) -> Self {
        self.spec.runtime = Some(runtime.into());
        self
    }

    /// Other container-create fields, with Docker API names (e.g.
    /// `json!({"HostConfig": {"Dns": ["10.0.0.1"]}})`), merged over the jail's own as the gem
    /// merged `HostConfig`. Refused if it would make a container privileged or unconfined.
    pub fn container_config(mut self, fields: Value) -> Self {
        self.spec.passthrough = Some(fields);
        self
    }

    /// Builds the jail. For Docker, connects to the daemon; in-process, compiles the
    /// inmate. No image is built here: see [`Hoosegow::build_image`].
    pub async fn build(self) -> Result<Hoosegow, Error> {
        let image_name = self
            .image_name
            .or_else(|| std::env::var("HOOSEGOW_IMAGE").ok());
        let runner_binary = self
            .runner_binary
            .or_else(|| std::env::var_os("HOOSEGOW_RUNNER").map(PathBuf::from));
        let backend = if self.in_process {
            let dir = self.inmate_dir.as_deref().ok_or_else(|| {
                Error::Config(
                    "an in-process jail needs the inmate's folder: call `inmate_dir`".into(),
                )
            })?;
            let wasm = inmate::compile(dir, &mut |line| tracing::debug!("{line}")).await?;
            let jail = tokio::task::spawn_blocking(move || in_process::load(&wasm))
                .await
                .map_err(|e| Error::Config(format!("compiling the inmate failed: {e}")))??;
            tracing::warn!("{}", in_process::WARNING);
            Backend::InProcess {
                jail: Arc::new(jail),
            }
        } else {
            if image_name.is_none() && self.inmate_dir.is_none() {
                return Err(Error::Config(
                    "a jail needs an image: give `inmate_dir` (its image is named after its contents) \
                     or an image name (`image_name`, or HOOSEGOW_IMAGE)"
                        .into(),
                ));
            }
            let mut spec = self.spec;
            for volume in &self.volumes {
                spec.volumes.push(volume.parse::<Volume>()?);
            }
            let docker = self.endpoint.connect().await?;
            // The leftovers of crashed processes go before new containers come.
            let pruned = prune::prune(&docker, false).await?;
            if !pruned.is_empty() {
                tracing::info!(
                    "removed {} leftover jail container(s) of processes that are gone",
                    pruned.len()
                );
            }
            Backend::Docker {
                containers: Arc::new(Containers::new(
                    docker,
                    self.endpoint,
                    spec,
                    &self.lifecycle,
                )),
                image: OnceCell::new(),
            }
        };
        let jail = Hoosegow {
            inner: Arc::new(Inner {
                backend,
                inmate_dir: self.inmate_dir,
                runner_binary,
                image_name,
                bundle: OnceCell::new(),
                options: self.options,
            }),
        };
        // Prestart or fill the pool now if the image is there (it may be built later).
        if let Backend::Docker { containers, .. } = &jail.inner.backend
            && let Ok(image) = jail.image_info().await
        {
            containers.warm(image);
        }
        Ok(jail)
    }
}

impl Hoosegow {
    /// A builder with the defaults: Docker at the default endpoint, default limits.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Whether this jail runs in-process (one wall) rather than in containers (two).
    pub fn is_in_process(&self) -> bool {
        matches!(self.inner.backend, Backend::InProcess { .. })
    }

    /// The walls around each call: 2 in Docker (wasm and container), 1 in-process.
    pub fn walls(&self) -> u8 {
        if self.is_in_process() { 1 } else { 2 }
    }

    /// The default options of this jail's calls; modify a clone for [`Hoosegow::call_with`].
    pub fn options(&self) -> &CallOptions {
        &self.inner.options
    }

    /// The image this jail runs: the name given, or `hoosegow:<sha256 of its contents>`
    /// (which compiles the inmate to find out).
    pub async fn image_name(&self) -> Result<String, Error> {
        match &self.inner.image_name {
            Some(name) => Ok(name.clone()),
            None => Ok(self.bundle(&mut |_| {}).await?.image_name()),
        }
    }

    /// Whether the jail's image exists in the daemon.
    pub async fn image_exists(&self) -> Result<bool, Error> {
        let docker = self.docker()?;
        Ok(image::inspect(docker, &self.image_name().await?)
            .await?
            .is_some())
    }

    /// Builds the jail's image if it does not exist yet, passing progress lines (the
    /// inmate's compilation, Docker's build output) to `progress`. Returns the image name.
    pub async fn build_image(
        &self,
        mut progress: impl FnMut(&str) + Send,
    ) -> Result<String, Error> {
        let docker = self.docker()?;
        let bundle = self.bundle(&mut progress).await?;
        let name = self.image_name().await?;
        if image::inspect(docker, &name).await?.is_some() {
            progress(&format!("image {name} exists; nothing to build"));
            return Ok(name);
        }
        image::build(docker, bundle, &name, &mut progress).await?;
        Ok(name)
    }

    /// The inmate's world: its exports and the callbacks it may make.
    pub async fn world(&self) -> Result<World, Error> {
        match &self.inner.backend {
            Backend::InProcess { jail, .. } => Ok(jail.world().clone()),
            Backend::Docker { .. } => Ok(self.image_info().await?.world.clone()),
        }
    }

    /// Calls the inmate's export `name` with JSON arguments, using the jail's default
    /// options. Arguments are checked against the export's WIT signature before anything
    /// is sent; the result is checked before it is returned.
    pub async fn call(&self, name: &str, args: Vec<Value>) -> Result<Value, Error> {
        self.call_with(name, args, &self.inner.options).await
    }

    /// [`Hoosegow::call`] with per-call options.
    pub async fn call_with(
        &self,
        name: &str,
        args: Vec<Value>,
        options: &CallOptions,
    ) -> Result<Value, Error> {
        Ok(self.call_traced(name, args, options).await?.value)
    }

    /// [`Hoosegow::call_with`], also saying where the call ran: the hostname its runner
    /// reported (a container's short id), or `in-process`.
    pub async fn call_traced(
        &self,
        name: &str,
        args: Vec<Value>,
        options: &CallOptions,
    ) -> Result<Traced, Error> {
        match &self.inner.backend {
            Backend::InProcess { jail } => {
                let func = resolve(jail.world(), name, &args, &options.limits)?;
                let value =
                    in_process::call(jail.clone(), func.name.clone(), args, options).await?;
                check_result(func, &value)?;
                Ok(Traced {
                    value,
                    served_by: "in-process".into(),
                })
            }
            Backend::Docker { containers, .. } => {
                let image = self.image_info().await?;
                let func = resolve(&image.world, name, &args, &options.limits)?;
                let (value, served_by) = containers.call(image, func, args, options).await?;
                Ok(Traced { value, served_by })
            }
        }
    }

    /// Removes this jail's containers: prestarted, pooled, and those being removed after
    /// their calls. The last handle's drop does the same in the background; call this to
    /// know it is done.
    pub async fn cleanup(&self) -> Result<(), Error> {
        match &self.inner.backend {
            Backend::Docker { containers, .. } => containers.cleanup().await,
            Backend::InProcess { .. } => Ok(()),
        }
    }

    fn docker(&self) -> Result<&Docker, Error> {
        match &self.inner.backend {
            Backend::Docker { containers, .. } => Ok(containers.docker()),
            Backend::InProcess { .. } => Err(Error::Config(
                "this jail runs in-process and has no Docker image; build it without `in_process`"
                    .into(),
            )),
        }
    }

    async fn image_info(&self) -> Result<&ImageInfo, Error> {
        let Backend::Docker { containers, image } = &self.inner.backend else {
            return Err(Error::Config("an in-process jail has no image".into()));
        };
        image
            .get_or_try_init(|| async {
                let name = self.image_name().await?;
                image::inspect(containers.docker(), &name)
                    .await?
                    .ok_or(Error::ImageMissing { image: name })
            })
            .await
    }

    async fn bundle(&self, progress: &mut (dyn FnMut(&str) + Send)) -> Result<&Arc<Bundle>, Error> {
        self.inner
            .bundle
            .get_or_try_init(|| async {
                let dir = self.inner.inmate_dir.as_deref().ok_or_else(|| {
                    Error::Config(
                        "building an image needs the inmate's folder: call `inmate_dir`".into(),
                    )
                })?;
                let runner = read_runner(self.inner.runner_binary.as_deref()).await?;
                let wasm = inmate::compile(dir, progress).await?;
                let bundle = tokio::task::spawn_blocking(move || Bundle::precompile(&wasm, runner))
                    .await
                    .map_err(|e| Error::Config(format!("precompiling the inmate failed: {e}")))??;
                Ok(Arc::new(bundle))
            })
            .await
    }
}

/// A call's value and where it ran.
#[derive(Clone, Debug, PartialEq)]
pub struct Traced {
    /// The result.
    pub value: Value,
    /// The hostname the runner reported (a container's short id), or `in-process`.
    pub served_by: String,
}

impl Drop for Inner {
    /// The last handle is gone: remove the jail's containers before the drop returns (the
    /// process may exit next). On a multi-threaded runtime that is [`Hoosegow::cleanup`];
    /// otherwise the runtime cannot run while its thread is in this drop, so a thread of
    /// its own removes every container labelled with the jail's id. Whatever a crash
    /// leaves, the next jail to start or `hoosegow prune` removes.
    fn drop(&mut self) {
        let Backend::Docker { containers, .. } = &self.backend else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime)
                if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                let containers = containers.clone();
                tokio::task::block_in_place(|| {
                    runtime.block_on(async move {
                        if let Err(e) = containers.cleanup().await {
                            tracing::warn!("{e}");
                        }
                    })
                });
            }
            _ => containers.sweep_blocking(),
        }
    }
}

async fn read_runner(path: Option<&Path>) -> Result<Vec<u8>, Error> {
    let path = path.ok_or_else(|| {
        Error::Config(
            "building an image needs the static jail-runner binary: build it with \
             `cargo build --release -p jail-runner --target x86_64-unknown-linux-musl` and pass its path \
             with `runner_binary` or HOOSEGOW_RUNNER (`cargo xtask build-inmate` does all of this)"
                .into(),
        )
    })?;
    tokio::fs::read(path).await.map_err(|e| {
        Error::io(
            format!("cannot read the runner binary {}", path.display()),
            e,
        )
    })
}

/// The export `name`, with `args` checked against its signature and size limit.
fn resolve<'w>(
    world: &'w World,
    name: &str,
    args: &[Value],
    limits: &Limits,
) -> Result<&'w Func, Error> {
    let func = world.export(name).ok_or_else(|| Error::UnknownFunction {
        name: name.to_string(),
        exports: world.export_names().into_iter().map(String::from).collect(),
    })?;
    if args.len() != func.params.len() {
        return Err(Error::ArgumentCount {
            signature: func.to_string(),
            expected: func.params.len(),
            got: args.len(),
        });
    }
    for (i, (param, arg)) in func.params.iter().zip(args).enumerate() {
        value::check(&param.ty, arg, &format!("args[{i}]")).map_err(|error| {
            Error::BadArgument {
                func: func.to_string(),
                error,
            }
        })?;
    }
    if args.iter().map(json_len).sum::<u64>() > limits.argument_bytes {
        return Err(Error::LimitExceeded {
            func: func.name.clone(),
            hit: limits.hit(Limit::ArgumentBytes),
            backtrace: Vec::new(),
        });
    }
    Ok(func)
}

fn check_result(func: &Func, value: &Value) -> Result<(), Error> {
    match &func.result {
        Some(ty) => value::check(ty, value, "result")
            .map_err(|e| Error::protocol(format!("bad result: {e}"))),
        None => Ok(()),
    }
}
