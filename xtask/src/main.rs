//! Repository automation (`cargo xtask …`), in Rust rather than shell scripts.
//!
//! - `demo`: build `inmates/reverse` and call `reverse("foobar")`: through Docker when a
//!   daemon answers, otherwise in-process with a loud notice;
//! - `build-inmate <dir>`: compile, precompile, build the image; prints its name last;
//! - `test`: set up what the tests need, then fmt, clippy and the whole test suite.

mod build;
mod progress;
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
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Task::Demo => demo().await,
        Task::BuildInmate { dir } => {
            setup::rust_targets()?;
            setup::musl_tools()?;
            let image = build::inmate(&dir).await?;
            println!("{image}");
            Ok(())
        }
        Task::Test => test(),
    }
}

async fn demo() -> Result<()> {
    setup::rust_targets()?;
    let dir = build::workspace().join("inmates/reverse");
    let args = vec![Value::from("foobar")];
    let docker_ready = setup::docker_answers() && setup::musl_tools().is_ok();
    let jail = if docker_ready {
        let image = build::inmate(&dir).await?;
        Hoosegow::builder().image_name(image).build().await?
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
    let result = jail.call("reverse", args).await?;
    println!("reverse(\"foobar\") = {result}   ({walls})");
    Ok(())
}

fn test() -> Result<()> {
    setup::rust_targets()?;
    setup::musl_tools()?;
    setup::docker_engine()?;
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
    let runner = build::runner()?;
    cargo(&["build", "--release"])?;
    let status = Command::new(cargo_bin())
        .args(["test", "--release"])
        .env("HOOSEGOW_RUNNER", &runner)
        .env("HOOSEGOW_CLI", build::target_dir().join("release/hoosegow"))
        .current_dir(build::workspace())
        .status()?;
    if !status.success() {
        bail!("tests failed");
    }
    Ok(())
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
