//! `cargo xtask bench [--quick] [--publish]`: every way to call an inmate, measured side by
//! side in one run with the floor under each, on this machine.
//!
//! For `inmates/reverse` called with `"foobar"`: the in-process backend and the runner core
//! under it; a pool (sequential latency, and throughput at concurrency 1, 4, 16, 64); a
//! container per call (prestarted and ready, back to back, and cold); a streaming call
//! (`inmates/chatty`); the image (build, no-op rebuild, size) and the inmate's compile and
//! precompile. The floors are Docker's own costs for the same work with a static echo
//! program in the runner's place (`bench/echo/`): `docker run --rm`, a container per
//! request through the API, and a round trip over a long-lived container's attach stream.
//!
//! Writes `target/bench/report.json` (one key per figure), `target/bench/details.json`
//! (the machine, the settings, the figures behind the figures), `target/bench/report.md`
//! and `target/bench/latency.svg`, and prints the table. `--publish` also writes the
//! table into BENCHMARKS.md and the chart to `docs/latency.svg` (full runs only).
//!
//! Each figure and its floor are measured close together in time, so that a change in
//! the machine's load moves both; the load average at start and end is in the report.

mod chart;
mod floors;
mod jails;
mod machine;
mod report;
mod stats;

use crate::build;
use crate::progress::Step;
use anyhow::{Context, Result, bail, ensure};
use hoosegow::Endpoint;
use machine::Machine;
use report::{Details, Figures, Report, Throughput};
use serde::Serialize;
use stats::Samples;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How many of each measurement a run takes: `(warm-up, measured)` where both apply.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub quick: bool,
    pub in_process: (usize, usize),
    pub runner_core: (usize, usize),
    pub attach: (usize, usize),
    pub pooled: (usize, usize),
    /// Calls per concurrency level, after the pool is full and warm.
    pub throughput_calls: usize,
    /// Round trips for each throughput floor.
    pub floor_throughput_calls: usize,
    /// (concurrency, pool size): the sizes chosen for this 2-core machine (see BENCHMARKS.md).
    pub pools: Vec<(usize, usize)>,
    pub docker_run: (usize, usize),
    pub api_container: (usize, usize),
    pub ephemeral_ready: (usize, usize),
    /// First calls on a fresh container with nothing else starting (diagnostic).
    pub first_calls: usize,
    pub ephemeral_b2b: (usize, usize),
    pub cold: (usize, usize),
    pub stream_runs: usize,
    pub stream_yields: u32,
    pub image_builds: usize,
    pub noop_rebuilds: usize,
    pub precompiles: usize,
}

impl Plan {
    /// The full run: under 15 minutes on the development machine.
    fn full() -> Plan {
        Plan {
            quick: false,
            in_process: (2_000, 50_000),
            runner_core: (2_000, 50_000),
            attach: (500, 10_000),
            pooled: (500, 10_000),
            throughput_calls: 10_000,
            floor_throughput_calls: 20_000,
            pools: POOLS.to_vec(),
            docker_run: (2, 30),
            api_container: (3, 50),
            ephemeral_ready: (2, 50),
            first_calls: 20,
            ephemeral_b2b: (3, 50),
            cold: (2, 40),
            stream_runs: 10,
            stream_yields: 10_000,
            image_builds: 5,
            noop_rebuilds: 10,
            precompiles: 5,
        }
    }

    /// `--quick`: under 3 minutes, still at the minimum sample counts where it
    /// names one (10,000 in-process calls, 2,000 pooled, 20 cold).
    fn quick() -> Plan {
        Plan {
            quick: true,
            in_process: (200, 10_000),
            runner_core: (200, 10_000),
            attach: (50, 2_000),
            pooled: (50, 2_000),
            throughput_calls: 1_000,
            floor_throughput_calls: 2_000,
            pools: POOLS.to_vec(),
            docker_run: (1, 5),
            api_container: (1, 10),
            ephemeral_ready: (1, 8),
            first_calls: 5,
            ephemeral_b2b: (1, 10),
            cold: (1, 20),
            stream_runs: 1,
            stream_yields: 10_000,
            image_builds: 1,
            noop_rebuilds: 2,
            precompiles: 1,
        }
    }
}

/// (concurrency, pool size) for the throughput figures: a pool of 2, one container per
/// core of this 2-core machine; at concurrency 1 it hides a member's replacement. The
/// sweep in BENCHMARKS.md (`--pool N`) shows what other sizes do.
const POOLS: [(usize, usize); 4] = [(1, 2), (4, 2), (16, 2), (64, 2)];

pub async fn run(quick: bool, publish: bool, pool: Option<usize>) -> Result<()> {
    if quick && publish {
        bail!("--publish records a full run; drop --quick");
    }
    let mut plan = if quick { Plan::quick() } else { Plan::full() };
    if let Some(size) = pool {
        if size == 0 {
            bail!("--pool needs at least one container");
        }
        plan.pools = POOLS.map(|(concurrency, _)| (concurrency, size)).to_vec();
    }
    let started = Instant::now();
    let docker = Endpoint::Default.connect().await?;
    let mut machine = Machine::describe(&docker).await?;
    eprintln!("==> bench on {}", machine.line());

    let runner = build::runner()?;
    let runner_bytes = std::fs::metadata(&runner)?.len();
    let echo = floors::build_echo()?;
    floors::build_echo_image(&docker, &echo).await?;
    let reverse = jails::inmate_dir("reverse");
    let chatty = jails::inmate_dir("chatty");

    // The inmate's way to an image.
    let step = Step::start("compile inmates/reverse (its source touched)");
    let (wasm, compile) = jails::compile_inmate(&reverse).await?;
    step.done(&report::human(compile));
    let runner_binary = std::fs::read(&runner)?;
    let step = Step::start("precompile it for the runner");
    let precompile = jails::precompile(&wasm, plan.precompiles).await?;
    step.done(&report::human(precompile.p50()));
    let step = Step::start("build its image from nothing (a fresh runner tail, no cache)");
    let image_build = jails::image_build(&docker, &wasm, &runner_binary, plan.image_builds).await?;
    step.done(&report::human(image_build.p50()));
    let step = Step::start("images of inmates/reverse and inmates/chatty");
    let image = jails::ensure_image(&reverse, &runner).await?;
    let chatty_image = jails::ensure_image(&chatty, &runner).await?;
    let image_bytes = jails::image_bytes(&docker, &image).await?;
    step.done(&image);
    let step = Step::start("no-op rebuild: a new jail for the folder, then build_image");
    let (noop_rebuild, noop_build_image_call) =
        jails::noop_rebuild(&reverse, &runner, plan.noop_rebuilds).await?;
    step.done(&report::human(noop_rebuild.p50()));

    // In-process, and the runner core under it.
    let step = Step::start("runner core: instantiation alone, and a call without the backend");
    let (warmup, runs) = plan.runner_core;
    let (instantiate, core_call) = jails::runner_core(&wasm, warmup, runs).await?;
    step.done(&format!(
        "{} / {}",
        report::human(instantiate.p50()),
        report::human(core_call.p50())
    ));
    let step = Step::start("in-process calls");
    let (warmup, runs) = plan.in_process;
    let in_process = jails::in_process(&reverse, warmup, runs).await?;
    step.done(&report::human(in_process.p50()));

    // A pool, interleaved with its floor.
    let step = Step::start(
        "pooled calls, sequential, pool of 1, and attach round trips to an echo loop, in turns",
    );
    let jail = jails::pool(&image, 1, jails::FUNC, jails::args()).await?;
    let (attach, pooled, served_by) = pooled_beside_its_floor(&docker, &jail, &plan).await?;
    step.done(&format!(
        "{} (floor {})",
        report::human(pooled.p50()),
        report::human(attach.p50())
    ));
    // The container that served the last call, idle now: what a pool member costs at rest.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let last = served_by.last().context("no pooled call")?;
    let resident = jails::resident(&docker, last).await?;
    jail.cleanup().await?;
    eprintln!(
        "    idle member {:.1} MiB",
        resident.process_rss_bytes as f64 / (1u64 << 20) as f64
    );
    let mut throughput = Vec::new();
    // The floor under c callers on a pool of n: min(c, n) echo loops driven at once.
    let mut floors_by_loops = std::collections::HashMap::new();
    for &(concurrency, pool_size) in &plan.pools {
        let loops = concurrency.min(pool_size);
        let step = Step::start(format!(
            "throughput: {concurrency} callers, pool of {pool_size}, and its floor"
        ));
        let floor = match floors_by_loops.get(&loops) {
            Some(&rate) => rate,
            None => {
                let calls = plan.floor_throughput_calls;
                let rate = floors::attach_throughput(&docker, loops, calls).await?;
                floors_by_loops.insert(loops, rate);
                rate
            }
        };
        let jail = jails::pool(&image, pool_size, jails::FUNC, jails::args()).await?;
        let calls_per_s = jails::throughput(&jail, concurrency, plan.throughput_calls).await?;
        jail.cleanup().await?;
        step.done(&format!("{calls_per_s:.0}/s (floor {floor:.0}/s)"));
        throughput.push(Throughput {
            concurrency,
            pool_size,
            calls_per_s,
            floor_loops: loops,
            floor_calls_per_s: floor,
        });
    }
    let step = Step::start(format!(
        "streaming: count({}) on inmates/chatty, pool of 1",
        plan.stream_yields
    ));
    let (stream_first, stream_total) =
        jails::stream(&chatty_image, plan.stream_yields, plan.stream_runs).await?;
    step.done(&format!(
        "first callback {}, total {}",
        report::human(stream_first.p50()),
        report::human(stream_total.p50())
    ));

    // A container per call, right after its floors.
    let step = Step::start("floor: a container per request through the API");
    let (warmup, runs) = plan.api_container;
    let api_container = floors::api_container(&docker, warmup, runs).await?;
    step.done(&report::human(api_container.p50()));
    let step = Step::start("floor: docker run --rm");
    let (warmup, runs) = plan.docker_run;
    let docker_run = floors::docker_run(warmup, runs).await?;
    step.done(&report::human(docker_run.p50()));
    // Spaced so that the prestarted container is up and the used one gone: three times
    // what a container per request costs through the API, within [0.5 s, 3 s].
    let gap = api_container
        .p50()
        .mul_f64(3.0)
        .clamp(Duration::from_millis(500), Duration::from_secs(3));
    let step = Step::start(format!(
        "cold calls (no prestart), {} apart",
        report::human(gap)
    ));
    let (warmup, runs) = plan.cold;
    let cold = containers_per_call(&image, 0, warmup, runs, gap).await?;
    step.done(&report::human(cold.p50()));
    let step = Step::start(format!(
        "ephemeral calls, ready (prestart 1), {} apart",
        report::human(gap)
    ));
    let (warmup, runs) = plan.ephemeral_ready;
    let ephemeral_ready = containers_per_call(&image, 1, warmup, runs, gap).await?;
    step.done(&report::human(ephemeral_ready.p50()));
    let step = Step::start(format!(
        "first calls on a fresh container, nothing else starting, {} after its start",
        report::human(gap)
    ));
    let first_call = jails::first_call(&image, plan.first_calls, gap).await?;
    step.done(&report::human(first_call.p50()));
    let step = Step::start("ephemeral calls, back to back (prestart 1)");
    let (warmup, runs) = plan.ephemeral_b2b;
    let ephemeral_b2b = containers_per_call(&image, 1, warmup, runs, Duration::ZERO).await?;
    step.done(&report::human(ephemeral_b2b.p50()));

    machine.load_at_end = machine::load();
    let figures = Figures {
        machine,
        plan,
        compile,
        precompile,
        image_build,
        noop_rebuild,
        noop_build_image_call,
        image_bytes,
        runner_bytes,
        instantiate,
        core_call,
        in_process,
        attach,
        pooled,
        resident,
        throughput,
        stream_first,
        stream_total,
        api_container,
        docker_run,
        cold,
        ephemeral_ready,
        first_call,
        ephemeral_b2b,
        gap,
    };
    write(&figures, publish)?;
    eprintln!("==> the run took {:.0?}", started.elapsed());
    Ok(())
}

/// Calls through a jail with a container per call, each checked to have run in a
/// container of its own.
async fn containers_per_call(
    image: &str,
    prestart: usize,
    warmup: usize,
    runs: usize,
    gap: Duration,
) -> Result<Samples> {
    let jail = jails::ephemeral(image, prestart).await?;
    let (samples, served_by) = jails::sequential(&jail, warmup, runs, gap).await?;
    jail.cleanup().await?;
    let distinct: HashSet<&String> = served_by.iter().collect();
    ensure!(
        distinct.len() == served_by.len(),
        "{} calls ran in {} containers",
        served_by.len(),
        distinct.len()
    );
    Ok(samples)
}

/// Writes the report files and prints the table; with `publish`, BENCHMARKS.md's table
/// and `docs/latency.svg` too.
fn write(figures: &Figures, publish: bool) -> Result<()> {
    let dir = build::target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let report = Report::of(figures);
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    std::fs::write(
        dir.join("details.json"),
        serde_json::to_string_pretty(&Details::of(figures))? + "\n",
    )?;
    let table = report::table(figures);
    std::fs::write(dir.join("report.md"), &table)?;
    let svg = dir.join("latency.svg");
    chart::draw(figures, &svg)?;
    println!("{table}");
    let misses = report::misses(figures);
    if misses.is_empty() {
        eprintln!("==> every target of the benchmark issue is met");
    } else {
        eprintln!("==> targets missed:");
        for miss in &misses {
            eprintln!("    {miss}");
        }
    }
    eprintln!(
        "==> written: {}, {}, {}, {}",
        dir.join("report.json").display(),
        dir.join("details.json").display(),
        dir.join("report.md").display(),
        svg.display()
    );
    if publish {
        publish_run(figures, &table, &svg)?;
    }
    Ok(())
}

/// Between these lines BENCHMARKS.md holds the latest published run.
const BEGIN: &str = "<!-- bench:begin — written by `cargo xtask bench --publish` -->";
const END: &str = "<!-- bench:end -->";

fn publish_run(figures: &Figures, table: &str, svg: &std::path::Path) -> Result<()> {
    let workspace = build::workspace();
    let docs = workspace.join("docs");
    std::fs::create_dir_all(&docs)?;
    std::fs::copy(svg, docs.join("latency.svg"))?;
    let path = workspace.join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).context("BENCHMARKS.md")?;
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        bail!("BENCHMARKS.md lacks the lines {BEGIN} and {END}");
    };
    let section = format!(
        "{BEGIN}\n\n`cargo xtask bench` at commit {}, load average {:.2} at start and {:.2} at end.\n\n{table}\n![median latency per mode beside its floor](docs/latency.svg)\n\n{END}",
        figures.machine.commit, figures.machine.load_at_start, figures.machine.load_at_end
    );
    let updated = format!("{}{section}{}", &text[..begin], &text[end + END.len()..]);
    std::fs::write(&path, updated)?;
    eprintln!("==> published into BENCHMARKS.md and docs/latency.svg");
    Ok(())
}

/// Sequential pooled calls and attach round trips to an echo loop, in turns of [`TURN`]
/// each until both have their samples: a change in the machine's load during the
/// measurement then moves the figure and its floor alike. Returns (floor, pooled, the
/// hostname that served each pooled call).
async fn pooled_beside_its_floor(
    docker: &bollard::Docker,
    jail: &hoosegow::Hoosegow,
    plan: &Plan,
) -> Result<(Samples, Samples, Vec<String>)> {
    const TURN: usize = 100;
    let mut echo = floors::echo_loop(docker).await?;
    let options = jail.options().clone();
    for _ in 0..plan.attach.0 {
        echo.roundtrip().await?;
    }
    for _ in 0..plan.pooled.0 {
        jails::timed_call(jail, &options).await?;
    }
    let (mut floor, mut pooled, mut served_by) = (Vec::new(), Vec::new(), Vec::new());
    while floor.len() < plan.attach.1 || pooled.len() < plan.pooled.1 {
        for _ in 0..TURN.min(plan.attach.1 - floor.len()) {
            let started = Instant::now();
            echo.roundtrip().await?;
            floor.push(started.elapsed());
        }
        for _ in 0..TURN.min(plan.pooled.1 - pooled.len()) {
            let (elapsed, served) = jails::timed_call(jail, &options).await?;
            pooled.push(elapsed);
            served_by.push(served);
        }
    }
    echo.remove(docker).await?;
    Ok((Samples::new(floor), Samples::new(pooled), served_by))
}
