//! The floors: what Docker itself costs for the work a jail call does, with a static echo
//! program (`bench/echo/`) in the runner's place, the same `FROM scratch` image shape and
//! the jail's own hardened container settings. No jail figure can beat its floor.

use crate::bench::stats::{Samples, per_second, time_each};
use crate::build;
use crate::progress::Step;
use anyhow::{Context, Result, bail, ensure};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptions,
};
use futures_util::{Stream, StreamExt};
use hoosegow::ContainerLimits;
use hoosegow::docker::container;
use hoosegow::docker::image::ImageInfo;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// The floor image's name.
pub const ECHO_IMAGE: &str = "hoosegow-bench/echo:latest";

/// What each floor sends and expects back: the same argument the jail calls get.
const REQUEST: &[u8] = b"foobar\n";

/// The floor image's recipe: a jail image's, with the echo program in the runner's place.
const DOCKERFILE: &str =
    "FROM scratch\nCOPY echo /echo\nUSER 65534:65534\nENTRYPOINT [\"/echo\"]\n";

/// Builds the static echo program; returns its path.
pub fn build_echo() -> Result<PathBuf> {
    build::static_binary("hoosegow-bench-echo", "echo")
}

/// Builds the floor image through the API (as the library builds a jail's).
pub async fn build_echo_image(docker: &Docker, echo: &std::path::Path) -> Result<()> {
    let step = Step::start(format!("image {ECHO_IMAGE}"));
    let binary = std::fs::read(echo)?;
    let mut tar = tar::Builder::new(Vec::new());
    for (path, mode, bytes) in [
        ("Dockerfile", 0o644, DOCKERFILE.as_bytes()),
        ("echo", 0o755, &binary[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes)?;
    }
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(ECHO_IMAGE)
        .rm(true)
        .forcerm(true)
        .build();
    let context = tar.into_inner()?;
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        let info = item.context("building the floor image")?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            bail!("building the floor image failed: {detail}");
        }
        if let Some(line) = info.stream {
            step.line(line.trim_end());
        }
    }
    step.done("built");
    Ok(())
}

/// A jail container's creation request, for the echo image: the same hardening, limits
/// and labels (so that `hoosegow prune` finds what a crashed bench left behind).
fn body(looping: bool) -> ContainerCreateBody {
    let image = ImageInfo {
        name: ECHO_IMAGE.into(),
        artifact_sha256: String::new(),
        world: Default::default(),
    };
    let mut body = container::config(&image, &ContainerLimits::default());
    body.cmd = looping.then(|| vec!["loop".to_string()]);
    body
}

/// `docker run --rm -i` of the echo image with the jail's settings as CLI flags: one line
/// in, one line out, the container gone when the command returns.
pub async fn docker_run(warmup: usize, runs: usize) -> Result<Samples> {
    let limits = ContainerLimits::default();
    let args: Vec<String> = [
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--ipc",
        "none",
        "--user",
        "65534:65534",
        "--label",
        "hoosegow.jail=1",
    ]
    .into_iter()
    .map(String::from)
    .chain([
        format!("--pids-limit={}", limits.pids),
        format!("--memory={}", limits.memory_bytes),
        format!("--memory-swap={}", limits.memory_bytes),
        format!("--cpus={}", limits.nano_cpus as f64 / 1e9),
        format!("--ulimit=nofile={0}:{0}", limits.nofile),
        "--ulimit=core=0".into(),
        ECHO_IMAGE.into(),
    ])
    .collect();
    let args = &args;
    time_each(warmup, runs, move || async move {
        let mut child = tokio::process::Command::new("docker")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run docker")?;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(REQUEST).await?;
        drop(stdin);
        let out = child.wait_with_output().await?;
        ensure!(
            out.status.success() && out.stdout == REQUEST,
            "docker run of the floor image: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    })
    .await
}

/// A container per request through the API: create, attach, start, write, read, wait,
/// remove, each step waited for, as a caller without a prestarted container would.
pub async fn api_container(docker: &Docker, warmup: usize, runs: usize) -> Result<Samples> {
    let body = &body(false);
    time_each(warmup, runs, move || async move {
        let mut echo = Echo::start(docker, body).await?;
        echo.roundtrip().await?;
        let Echo { id, input, .. } = echo;
        drop(input);
        let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
        while let Some(status) = wait.next().await {
            status.context("waiting for the floor container")?;
        }
        remove(docker, &id).await
    })
    .await
}

/// A long-lived echo container, for round trips over its attach stream: the least any
/// call through Docker attach can cost. Measured interleaved with the pooled calls it is
/// the floor of (see `bench::pooled_beside_its_floor`), so that both see the same load.
pub async fn echo_loop(docker: &Docker) -> Result<Echo> {
    Echo::start(docker, &body(true)).await
}

/// Round trips per second over `containers` echo loops driven at once, one request in
/// flight on each, `calls` in all: the floor under a pool's throughput.
pub async fn attach_throughput(docker: &Docker, containers: usize, calls: usize) -> Result<f64> {
    let mut echoes = Vec::with_capacity(containers);
    for _ in 0..containers {
        let mut echo = Echo::start(docker, &body(true)).await?;
        echo.roundtrip().await?;
        echoes.push(echo);
    }
    let per_container = calls.div_ceil(containers);
    let started = Instant::now();
    let mut drivers = tokio::task::JoinSet::new();
    for mut echo in echoes {
        drivers.spawn(async move {
            for _ in 0..per_container {
                echo.roundtrip().await?;
            }
            anyhow::Ok(echo)
        });
    }
    let mut done = Vec::with_capacity(containers);
    while let Some(driver) = drivers.join_next().await {
        done.push(driver??);
    }
    let rate = per_second(per_container * containers, started.elapsed());
    for echo in done {
        echo.remove(docker).await?;
    }
    Ok(rate)
}

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A started echo container and its attach stream.
pub struct Echo {
    id: String,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
}

impl Echo {
    /// Creates, attaches to (before starting, so no output is lost) and starts one.
    async fn start(docker: &Docker, body: &ContainerCreateBody) -> Result<Echo> {
        let id = docker
            .create_container(None, body.clone())
            .await
            .context("creating a floor container")?
            .id;
        let options = AttachContainerOptionsBuilder::new()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attach = docker.attach_container(&id, Some(options)).await?;
        docker.start_container(&id, None).await?;
        Ok(Echo {
            id,
            input: attach.input,
            output: attach.output,
        })
    }

    /// Writes the request and reads until all of it came back.
    pub async fn roundtrip(&mut self) -> Result<()> {
        self.input.write_all(REQUEST).await?;
        self.input.flush().await?;
        let mut got = Vec::with_capacity(REQUEST.len());
        while got.len() < REQUEST.len() {
            let deadline = Duration::from_secs(30);
            match tokio::time::timeout(deadline, self.output.next()).await {
                Ok(Some(Ok(LogOutput::StdOut { message }))) => got.extend_from_slice(&message),
                Ok(Some(Ok(LogOutput::StdErr { message }))) => {
                    bail!(
                        "the echo program said: {}",
                        String::from_utf8_lossy(&message)
                    )
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => bail!("the floor container's attach stream failed: {e}"),
                Ok(None) => bail!("the floor container ended before echoing"),
                Err(_) => bail!("the floor container did not echo within {deadline:?}"),
            }
        }
        ensure!(got == REQUEST, "the echo came back as {got:?}");
        Ok(())
    }

    pub async fn remove(self, docker: &Docker) -> Result<()> {
        drop(self.input);
        remove(docker, &self.id).await
    }
}

async fn remove(docker: &Docker, id: &str) -> Result<()> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    docker
        .remove_container(id, Some(options))
        .await
        .with_context(|| format!("removing floor container {id}"))
}
