//! The jail figures, measured through the library as an application calls it: the
//! in-process backend, a pool, a container per call (prestarted or not), a streaming
//! call, and the inmate's way to an image.

use crate::bench::stats::{Samples, per_second, time_each};
use anyhow::{Context, Result, ensure};
use bollard::Docker;
use bollard::query_parameters::{RemoveImageOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt;
use hoosegow::bundle::Bundle;
use hoosegow::docker::image;
use hoosegow::{CallOptions, Hoosegow, Limits, PoolConfig, Value};
use jail_runner::{Host, Stream};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The call every latency figure makes, and its answer.
pub const FUNC: &str = "reverse";
pub fn args() -> Vec<Value> {
    vec![json!("foobar")]
}
const ANSWER: &str = "raboof";

/// Compiles the inmate in `dir` after touching its source, so that cargo rebuilds the
/// inmate itself (its dependencies stay built); returns the component and the time taken.
pub async fn compile_inmate(dir: &Path) -> Result<(Vec<u8>, Duration)> {
    let source = dir.join("src/lib.rs");
    std::fs::File::options()
        .write(true)
        .open(&source)
        .and_then(|f| f.set_modified(SystemTime::now()))
        .with_context(|| format!("cannot touch {}", source.display()))?;
    let started = Instant::now();
    let wasm = hoosegow::inmate::compile(dir, &mut |_| {}).await?;
    Ok((wasm, started.elapsed()))
}

/// Compiles `wasm` to machine code with the runner's engine settings `runs` times: what
/// `Bundle::precompile` costs when its cache (`hoosegow::precompiled`) has nothing.
pub async fn precompile(wasm: &[u8], runs: usize) -> Result<Samples> {
    let wasm = wasm.to_vec();
    tokio::task::spawn_blocking(move || {
        let engine = jail_runner::engine::new(1).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            engine
                .precompile_component(&wasm)
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
            times.push(started.elapsed());
        }
        Ok(Samples::new(times))
    })
    .await?
}

/// An image built from nothing through the library's build function: each run's bundle
/// carries a runner with a different tail (a static binary's loader ignores trailing
/// bytes), so no layer of it exists yet and Docker's cache has nothing to give. The
/// images are removed afterwards.
pub async fn image_build(
    docker: &Docker,
    wasm: &[u8],
    runner: &[u8],
    runs: usize,
) -> Result<Samples> {
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        let mut unique = runner.to_vec();
        let nonce = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
        unique.extend_from_slice(format!("\0hoosegow-bench {run} {nonce:?}").as_bytes());
        let wasm = wasm.to_vec();
        let bundle =
            tokio::task::spawn_blocking(move || Bundle::precompile(&wasm, unique)).await??;
        let name = bundle.image_name();
        let mut cached = 0;
        let started = Instant::now();
        image::build(docker, &bundle, &name, &mut |line| {
            cached += usize::from(line.contains("Using cache"));
        })
        .await?;
        times.push(started.elapsed());
        docker
            .remove_image(
                &name,
                Some(RemoveImageOptionsBuilder::new().force(true).build()),
                None,
            )
            .await
            .with_context(|| format!("removing the bench's image {name}"))?;
        ensure!(cached == 0, "the build of {name} used Docker's cache");
    }
    Ok(Samples::new(times))
}

/// The no-op rebuild as an application does it at start-up when the image exists: a jail
/// for the inmate's folder (which compiles and precompiles it to learn the image's name)
/// and `build_image`. With no prestart, so that no container starts meanwhile. Returns
/// the whole and the `build_image` call alone.
pub async fn noop_rebuild(dir: &Path, runner: &Path, runs: usize) -> Result<(Samples, Samples)> {
    let (mut whole, mut build_image) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let jail = Hoosegow::builder()
            .inmate_dir(dir)
            .runner_binary(runner)
            .ephemeral(0)
            .build()
            .await?;
        let call = Instant::now();
        jail.build_image(|_| {}).await?;
        build_image.push(call.elapsed());
        whole.push(started.elapsed());
    }
    Ok((Samples::new(whole), Samples::new(build_image)))
}

/// The image of the inmate in `dir` (built if missing) through the library, as a user
/// would; returns its name.
pub async fn ensure_image(dir: &Path, runner: &Path) -> Result<String> {
    let jail = Hoosegow::builder()
        .inmate_dir(dir)
        .runner_binary(runner)
        .ephemeral(0)
        .build()
        .await?;
    Ok(jail.build_image(|_| {}).await?)
}

/// The image's size, as Docker counts it.
pub async fn image_bytes(docker: &Docker, name: &str) -> Result<u64> {
    let size = docker.inspect_image(name).await?.size.unwrap_or_default();
    Ok(u64::try_from(size)?)
}

/// Calls through an in-process jail: what an application sees of the runner core.
pub async fn in_process(dir: &Path, warmup: usize, runs: usize) -> Result<Samples> {
    let jail = Hoosegow::builder()
        .inmate_dir(dir)
        .in_process()
        .build()
        .await?;
    let jail = &jail;
    time_each(warmup, runs, move || async move {
        let value = jail.call(FUNC, args()).await?;
        ensure!(value == ANSWER, "{FUNC} returned {value}");
        Ok(())
    })
    .await
}

/// The runner core on its own, on one thread: a fresh store and instance without a call,
/// and a whole call (instance, call, drop) without the in-process backend around it.
pub async fn runner_core(wasm: &[u8], warmup: usize, runs: usize) -> Result<(Samples, Samples)> {
    let jail = hoosegow::in_process::load(wasm)?;
    tokio::task::spawn_blocking(move || {
        let (limits, host): (Limits, Arc<dyn Host>) = (Limits::default(), Arc::new(Silent));
        let args = args();
        let mut instantiate = Vec::with_capacity(runs);
        let mut call = Vec::with_capacity(runs);
        for i in 0..warmup + runs {
            let started = Instant::now();
            jail.instantiate(&limits, host.clone())
                .map_err(|f| anyhow::anyhow!("instantiate: {}", f.message))?;
            let instantiated = started.elapsed();
            let started = Instant::now();
            let value = jail
                .call(FUNC, &args, &limits, host.clone())
                .map_err(|f| anyhow::anyhow!("{FUNC}: {}", f.message))?;
            let called = started.elapsed();
            ensure!(value == ANSWER, "{FUNC} returned {value}");
            if i >= warmup {
                instantiate.push(instantiated);
                call.push(called);
            }
        }
        Ok((Samples::new(instantiate), Samples::new(call)))
    })
    .await?
}

/// A host for the runner core that expects neither callbacks nor output.
struct Silent;

impl Host for Silent {
    fn callback(&self, name: &str, _args: Vec<Value>) -> Result<Value, String> {
        Err(format!("the bench answers no callback (`{name}`)"))
    }

    fn output(&self, _stream: Stream, _bytes: &[u8]) {}
}

/// A pooled jail of `size` containers, each member started and warmed by a call of
/// `func(args)` (so calls measured afterwards never wait for a container to start).
pub async fn pool(image: &str, size: usize, func: &str, args: Vec<Value>) -> Result<Hoosegow> {
    let jail = Hoosegow::builder()
        .image_name(image.to_string())
        .pooled(PoolConfig {
            size,
            ..PoolConfig::default()
        })
        .build()
        .await?;
    let mut warmed = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while warmed.len() < size {
        ensure!(Instant::now() < deadline, "the pool of {size} did not fill");
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..size {
            let (jail, func, args) = (jail.clone(), func.to_string(), args.clone());
            calls.spawn(async move {
                let options = jail.options().clone();
                jail.call_traced(&func, args, &options).await
            });
        }
        while let Some(traced) = calls.join_next().await {
            warmed.insert(traced??.served_by);
        }
    }
    Ok(jail)
}

/// Sequential calls through a jail; returns their times and the containers that served them.
pub async fn sequential(
    jail: &Hoosegow,
    warmup: usize,
    runs: usize,
    gap: Duration,
) -> Result<(Samples, Vec<String>)> {
    let mut times = Vec::with_capacity(runs);
    let mut served_by = Vec::with_capacity(runs);
    let options = jail.options().clone();
    for i in 0..warmup + runs {
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        let (elapsed, served) = timed_call(jail, &options).await?;
        if i >= warmup {
            times.push(elapsed);
            served_by.push(served);
        }
    }
    Ok((Samples::new(times), served_by))
}

/// One call of [`FUNC`], its answer checked: how long it took and which container served it.
pub async fn timed_call(jail: &Hoosegow, options: &CallOptions) -> Result<(Duration, String)> {
    let started = Instant::now();
    let traced = jail.call_traced(FUNC, args(), options).await?;
    let elapsed = started.elapsed();
    ensure!(traced.value == ANSWER, "{FUNC} returned {}", traced.value);
    Ok((elapsed, traced.served_by))
}

/// Calls per second through `jail` with `concurrency` callers, `calls` in all.
pub async fn throughput(jail: &Hoosegow, concurrency: usize, calls: usize) -> Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (jail, next) = (jail.clone(), next.clone());
        callers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < calls {
                let value = jail.call(FUNC, args()).await?;
                ensure!(value == ANSWER, "{FUNC} returned {value}");
            }
            anyhow::Ok(())
        });
    }
    while let Some(caller) = callers.join_next().await {
        caller??;
    }
    Ok(per_second(calls, started.elapsed()))
}

/// The first call on a freshly started container while no other container starts: a
/// pool of 1, built, left `gap` to start its member, then called once. Beside the
/// "ready" figure, it shows what that call costs without the next container's start
/// running at the same time.
pub async fn first_call(image: &str, runs: usize, gap: Duration) -> Result<Samples> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let jail = Hoosegow::builder()
            .image_name(image.to_string())
            .pooled(PoolConfig {
                size: 1,
                ..PoolConfig::default()
            })
            .build()
            .await?;
        tokio::time::sleep(gap).await;
        let started = Instant::now();
        let value = jail.call(FUNC, args()).await?;
        times.push(started.elapsed());
        ensure!(value == ANSWER, "{FUNC} returned {value}");
        jail.cleanup().await?;
    }
    Ok(Samples::new(times))
}

/// A jail with a container per call, `prestart` of them started ahead of calls.
pub async fn ephemeral(image: &str, prestart: usize) -> Result<Hoosegow> {
    Ok(Hoosegow::builder()
        .image_name(image.to_string())
        .ephemeral(prestart)
        .build()
        .await?)
}

/// Resident memory of an idle container.
///
/// The figure is its process's VmRSS: everything it holds in RAM, the pages of the runner
/// binary and of the mapped inmate included. Its cgroup's counters are kept beside it,
/// but they undercount here: cgroup v1 charges a page of the image's files to the cgroup
/// that first read it (an earlier container, or the build), not to each container
/// mapping it.
pub struct Resident {
    pub process_rss_bytes: u64,
    /// The cgroup's anonymous memory plus its mapped files.
    pub cgroup_bytes: u64,
    /// The cgroup's whole charge, kernel memory included.
    pub cgroup_usage_bytes: u64,
}

pub async fn resident(docker: &Docker, container: &str) -> Result<Resident> {
    let options = StatsOptionsBuilder::new()
        .stream(false)
        .one_shot(true)
        .build();
    let stats = docker
        .stats(container, Some(options))
        .next()
        .await
        .context("no stats")??;
    let memory = stats.memory_stats.context("no memory stats")?;
    let counters = memory.stats.unwrap_or_default();
    let counter = |names: &[&str]| names.iter().find_map(|n| counters.get(*n).copied());
    // cgroup v1 names the counters rss and mapped_file; v2, anon and file_mapped.
    let anonymous = counter(&["rss", "anon"]).context("no rss/anon counter")?;
    let mapped = counter(&["mapped_file", "file_mapped"]).unwrap_or(0);
    // A FROM scratch jail has one process, the runner: no shell, nothing it starts.
    let pid = docker
        .inspect_container(container, None)
        .await?
        .state
        .and_then(|s| s.pid)
        .context("the container has no process")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("the container's process {pid} is not visible here"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")?;
    Ok(Resident {
        process_rss_bytes: kib * 1024,
        cgroup_bytes: anonymous + mapped,
        cgroup_usage_bytes: memory.usage.unwrap_or_default(),
    })
}

/// A streaming call: `count(yields)` on the chatty inmate in a pool of one, the progress
/// callback answered by the application each time. Returns the times to the first
/// callback and to the end, over `runs` calls.
pub async fn stream(image: &str, yields: u32, runs: usize) -> Result<(Samples, Samples)> {
    let jail = pool(image, 1, "count", vec![json!(0)]).await?;
    let first: Arc<Mutex<Option<Instant>>> = Arc::default();
    let received = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (first, received) = (first.clone(), received.clone());
        move |_args: Vec<Value>| {
            lock(&first).get_or_insert_with(Instant::now);
            received.fetch_add(1, Ordering::Relaxed);
            async { Ok::<_, String>(Value::Null) }
        }
    };
    // Ten thousand round trips take longer than the default deadline allows.
    let limits = Limits {
        timeout_ms: 120_000,
        ..Limits::default()
    };
    let options = jail
        .options()
        .clone()
        .limits(limits)
        .callback("progress", handler);
    jail.call_with("count", vec![json!(10)], &options).await?;
    let (mut firsts, mut totals) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        *lock(&first) = None;
        received.store(0, Ordering::Relaxed);
        let started = Instant::now();
        let value = jail
            .call_with("count", vec![json!(yields)], &options)
            .await?;
        totals.push(started.elapsed());
        ensure!(value == yields, "count({yields}) returned {value}");
        let got = received.load(Ordering::Relaxed);
        ensure!(got == yields as usize, "{got} of {yields} yields arrived");
        let first = lock(&first).take().context("no callback arrived")?;
        firsts.push(first - started);
    }
    jail.cleanup().await?;
    Ok((Samples::new(firsts), Samples::new(totals)))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a workspace inmate lives.
pub fn inmate_dir(name: &str) -> PathBuf {
    crate::build::workspace().join("inmates").join(name)
}
