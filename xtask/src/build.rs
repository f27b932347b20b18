//! `build-inmate`: the steps from an inmate folder to a jail image, each with progress,
//! all through the host library.

use crate::progress::Step;
use anyhow::{Context, Result, bail};
use hoosegow::bundle::Bundle;
use hoosegow::docker::image;
use hoosegow::{Endpoint, inmate};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

/// Cargo's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// The folders of this repository's Rust inmates.
pub fn rust_inmates() -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("inmates"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Builds the static runner; returns its path.
pub fn runner() -> Result<PathBuf> {
    static_binary("jail-runner", "jail-runner")
}

/// Builds the test-only probe (`tests/probe/`, static like the runner); returns its path.
/// It goes into test images only, never into a jail built by `build-inmate`.
pub fn probe() -> Result<PathBuf> {
    static_binary("hoosegow-probe", "probe")
}

/// Builds binary `bin` of `package` for x86_64-unknown-linux-musl, release; returns its path.
pub fn static_binary(package: &str, bin: &str) -> Result<PathBuf> {
    let step = Step::start(format!(
        "build {package} (static, x86_64-unknown-linux-musl)"
    ));
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", package])
        .args(["--target", "x86_64-unknown-linux-musl"])
        .current_dir(workspace())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run cargo")?;
    if !out.status.success() {
        bail!(
            "building {package} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = target_dir()
        .join("x86_64-unknown-linux-musl/release")
        .join(bin);
    let size = std::fs::metadata(&path)
        .with_context(|| format!("{} missing after a successful build", path.display()))?
        .len();
    step.done(&format!("{} ({:.1} MB)", path.display(), size as f64 / 1e6));
    Ok(path)
}

/// Compiles, precompiles and builds the image of the inmate in `dir`; returns the image name.
pub async fn inmate(dir: &Path) -> Result<String> {
    let step = Step::start(format!("compile {}", dir.display()));
    let wasm = inmate::compile(dir, &mut |line| step.line(line)).await?;
    step.done(&format!("component of {} KiB", wasm.len() / 1024));

    let runner = std::fs::read(runner()?)?;

    let step = Step::start("precompile for the runner's wasmtime");
    let bundle = tokio::task::spawn_blocking(move || Bundle::precompile(&wasm, runner)).await??;
    let name = bundle.image_name();
    step.done(&format!(
        "world: {} export(s), {} callback(s)",
        bundle.world().exports.len(),
        bundle.world().imports.len()
    ));

    let step = Step::start(format!("image {name}"));
    let docker = Endpoint::Default.connect().await?;
    if image::inspect(&docker, &name).await?.is_some() {
        step.done("exists already; reusing it, nothing built");
    } else {
        image::build(&docker, &bundle, &name, &mut |line| step.line(line)).await?;
        step.done("built");
    }
    Ok(name)
}
