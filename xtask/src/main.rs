//! Repository automation (`cargo xtask …`), in Rust rather than shell scripts.
//!
//! - `demo`: build `inmates/reverse` and call `reverse("foobar")`: through Docker when a
//!   daemon answers, otherwise in-process with a loud notice;
//! - `build-inmate <dir>`: compile, precompile, build the image; prints its name last;
//! - `languages`: measure the same inmate in every language (README's table);
//! - `toolchains`: install the toolchains of inmates in other languages than Rust;
//! - `test`: set up what the tests need, then fmt, clippy and the whole test suite;
//!   prints SECURITY.md's table of the attacks the suite tried;
//! - `security-table`: write that table into SECURITY.md;
//! - `fuzz [--seconds N] [target...]`: run the host decoders' fuzz targets for N s each;
//! - `bench [--quick] [--publish]`: every mode beside its floor, in one run (BENCHMARKS.md).

mod bench;
mod build;
mod fuzz;
mod languages;
mod progress;
mod security;
mod setup;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use hoosegow::{Hoosegow, Value};
use std::path::PathBuf;
use std::process::Command;

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build inmates/reverse and call reverse("foobar"): the README's first command.
    Demo,
    /// Compile an inmate folder, precompile it, build its image; print the image name.
    BuildInmate {
        /// The inmate's folder.
        dir: PathBuf,
    },
    /// Install what the tests need, then run fmt, clippy and the test suite.
    Test,
    /// Install the Python, JavaScript, C and Ruby inmate toolchains (into target/toolchains).
    Toolchains,
    /// Measure the same inmate in every language: image size, latency, runner memory.
    Languages {
        /// Only these inmates (e.g. `ruby reverse-py`); all when none is named.
        inmates: Vec<String>,
    },
    /// Write the attacks the last test run tried into SECURITY.md's table.
    SecurityTable,
    /// Fuzz the host's frame and value decoders (fuzz/) for a fixed time per target.
    Fuzz {
        /// Seconds to fuzz each target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Targets to run (`frames`, `values`); all when none is named.
        targets: Vec<String>,
    },
    /// Measure every way to call an inmate beside Docker's floor under it (BENCHMARKS.md).
    Bench {
        /// A shorter run (under 3 minutes) at the minimum sample counts.
        #[arg(long)]
        quick: bool,
        /// Also write the table into BENCHMARKS.md and the chart to docs/latency.svg.
        #[arg(long)]
        publish: bool,
        /// Measure every throughput figure with a pool of this size (for a sweep of pool
        /// sizes; the published run uses its own).
        #[arg(long, value_name = "N", conflicts_with = "publish")]
        pool: Option<usize>,
    },
}

fn main() -> Result<()> {
    // The library finds inmate toolchains through HOOSEGOW_TOOLCHAINS; set it before any
    // thread starts, for this process and the tests it runs.
    if std::env::var_os(hoosegow::inmate::toolchain::ENV).is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var(hoosegow::inmate::toolchain::ENV, setup::toolchains_dir()) };
    }
    tokio::runtime::Runtime::new()?.block_on(run(Cli::parse().command))
}

async fn run(task: Task) -> Result<()> {
    match task {
        Task::Demo => demo().await,
        Task::Toolchains => setup::toolchains(),
        Task::Languages { inmates } => {
            setup::rust_targets()?;
            setup::musl_tools()?;
            setup::docker_engine()?;
            setup::toolchains()?;
            languages::run(&inmates).await
        }
        Task::BuildInmate { dir } => {
            setup::rust_targets()?;
            setup::musl_tools()?;
            if hoosegow::inmate::Language::of(&dir)? != hoosegow::inmate::Language::Rust {
                setup::toolchains()?;
            }
            let image = build::inmate(&dir).await?;
            println!("{image}");
            Ok(())
        }
        Task::Test => test(),
        Task::SecurityTable => security::run(),
        Task::Fuzz { seconds, targets } => fuzz::run(seconds, &targets),
        Task::Bench {
            quick,
            publish,
            pool,
        } => {
            setup::rust_targets()?;
            setup::musl_tools()?;
            setup::docker_engine()?;
            bench::run(quick, publish, pool).await
        }
    }
}

async fn demo() -> Result<()> {
    setup::rust_targets()?;
    let dir = build::workspace().join("inmates/reverse");
    let args = vec![Value::from("foobar")];
    let docker_ready = setup::docker_answers() && setup::musl_tools().is_ok();
    let jail = if docker_ready {
        let image = build::inmate(&dir).await?;
        Hoosegow::builder()
            .image_name(image)
            .ephemeral(0)
            .build()
            .await?
    } else {
        eprintln!(
            "\n************************************************************************\n\
             NOTICE: no Docker daemon answers (or the musl toolchain is missing), so\n\
             this demo runs the inmate IN-PROCESS: only the wasm wall is up, without\n\
             the container around it. `cargo xtask test` installs and starts Docker.\n\
             ************************************************************************\n"
        );
        Hoosegow::builder()
            .inmate_dir(&dir)
            .in_process()
            .build()
            .await?
    };
    let walls = if jail.is_in_process() {
        "in-process, one wall"
    } else {
        "Docker, two walls"
    };
    let result = jail.call("reverse", args).await;
    jail.cleanup().await?;
    let result = result?;
    println!("reverse(\"foobar\") = {result}   ({walls})");
    Ok(())
}

fn test() -> Result<()> {
    setup::rust_targets()?;
    setup::musl_tools()?;
    setup::docker_engine()?;
    setup::toolchains()?;
    cargo(&["fmt", "--all", "--check"]).context("formatting differs: run `cargo fmt --all`")?;
    let deny_warnings = ["--", "-D", "warnings"];
    cargo(
        &[
            &["clippy", "--all-targets", "--release"][..],
            &deny_warnings,
        ]
        .concat(),
    )?;
    // Inmates are wasm32-wasip2 crates: lint them for the target they are built for.
    for inmate in build::rust_inmates()? {
        let manifest = inmate.join("Cargo.toml");
        let manifest = manifest.to_str().context("a UTF-8 path")?;
        let args = [
            "clippy",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
            manifest,
        ];
        cargo(&[&args[..], &deny_warnings].concat())?;
    }
    // The probe is built for musl only (it is not a default member): lint it there.
    let probe_lint = [
        "clippy",
        "--release",
        "-p",
        "hoosegow-probe",
        "--target",
        "x86_64-unknown-linux-musl",
    ];
    cargo(&[&probe_lint[..], &deny_warnings].concat())?;
    let runner = build::runner()?;
    let probe = build::probe()?;
    cargo(&["build", "--release"])?;
    // Only what this run proves goes into the table.
    security::clear()?;
    let status = Command::new(cargo_bin())
        .args(["test", "--release"])
        .env("HOOSEGOW_RUNNER", &runner)
        .env("HOOSEGOW_PROBE", &probe)
        .env("HOOSEGOW_CLI", build::target_dir().join("release/hoosegow"))
        // Not current_exe(): `cargo build` above may have replaced this very binary.
        .env("HOOSEGOW_XTASK", build::target_dir().join("release/xtask"))
        .current_dir(build::workspace())
        .status()?;
    match security::load() {
        Ok(attacks) if !attacks.is_empty() => {
            eprintln!(
                "\n==> attacks tried by this run (`cargo xtask security-table` writes them into SECURITY.md):\n"
            );
            print!("{}", security::render(&attacks));
        }
        _ => eprintln!("\n==> this run recorded no attacks"),
    }
    if !status.success() {
        bail!("tests failed");
    }
    no_leftovers()
}

/// Fails if the test suite left jail containers behind: every test cleans up after
/// itself, so any container still labelled `hoosegow.jail` is a leak.
fn no_leftovers() -> Result<()> {
    let list = || -> Result<Vec<String>> {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter", "label=hoosegow.jail"])
            .output()
            .context("cannot run docker ps")?;
        if !out.status.success() {
            bail!(
                "cannot list containers: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(String::from)
            .collect())
    };
    // Containers retired at the end of a call are removed in the background: give them a moment.
    for _ in 0..30 {
        if list()?.is_empty() {
            eprintln!("==> no jail container left behind");
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    bail!(
        "the test suite left jail containers behind: {}",
        list()?.join(" ")
    )
}

fn cargo(args: &[&str]) -> Result<()> {
    eprintln!("==> cargo {}", args.join(" "));
    let status = Command::new(cargo_bin())
        .args(args)
        .current_dir(build::workspace())
        .status()?;
    if !status.success() {
        bail!("`cargo {}` failed", args.join(" "));
    }
    Ok(())
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
