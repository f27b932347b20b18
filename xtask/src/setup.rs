//! Makes a fresh machine ready: the Rust targets, the musl C toolchain for the static
//! runner, and a Docker engine. Installs what it can (as root, with apt) and otherwise
//! says exactly what to install.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Adds the `wasm32-wasip2` and `x86_64-unknown-linux-musl` targets if missing.
pub fn rust_targets() -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    let missing: Vec<&str> = ["wasm32-wasip2", "x86_64-unknown-linux-musl"]
        .into_iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("==> rustup target add {}", missing.join(" "));
    let status = Command::new("rustup")
        .args(["target", "add"])
        .args(&missing)
        .status()
        .context("cannot run rustup; install Rust with rustup from https://rustup.rs")?;
    if !status.success() {
        bail!("`rustup target add {}` failed", missing.join(" "));
    }
    Ok(())
}

/// Makes sure `musl-gcc` exists: wasmtime's runtime compiles a little C, and the runner
/// is a static musl binary.
pub fn musl_tools() -> Result<()> {
    if on_path("musl-gcc") {
        return Ok(());
    }
    apt_install(
        &["musl-tools"],
        "the static jail-runner is built with musl-gcc",
    )
}

/// Whether a Docker daemon answers `docker info`.
pub fn docker_answers() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure a Docker daemon answers: installs Debian's `docker.io` and starts `dockerd`
/// (without iptables or a bridge: jails have no network) when none does.
pub fn docker_engine() -> Result<()> {
    if docker_answers() {
        return Ok(());
    }
    if !on_path("dockerd") || !on_path("docker") {
        apt_install(
            &["docker.io"],
            "the tests run jails in a real Docker engine",
        )?;
    }
    if !is_root() {
        bail!(
            "no Docker daemon answers `docker info`, and starting one needs root. Start Docker \
             (`sudo systemctl start docker`, or `sudo dockerd &`) and run this again"
        );
    }
    eprintln!(
        "NOTICE: no Docker daemon answers; starting one: dockerd --iptables=false --ip6tables=false \
         --bridge=none (log: /var/log/dockerd.log)"
    );
    let log = std::fs::File::create("/var/log/dockerd.log")
        .context("cannot create /var/log/dockerd.log")?;
    Command::new("dockerd")
        .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .context("cannot start dockerd")?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if docker_answers() {
            eprintln!("    dockerd answers after {:.1?}", started.elapsed());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("dockerd did not answer within 60 s; see /var/log/dockerd.log")
}

fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    let list = packages.join(" ");
    if !is_root() || !on_path("apt-get") {
        bail!(
            "{why}: install {list} (Debian/Ubuntu: `sudo apt-get install -y {list}`) and run this again"
        );
    }
    eprintln!("NOTICE: {why}; installing {list} with apt-get");
    let quiet = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
    };
    quiet(&["update", "-qq"]).context("apt-get update")?;
    let status =
        quiet(&[&["install", "-y", "-qq"][..], packages].concat()).context("apt-get install")?;
    if !status.success() {
        bail!("`apt-get install -y {list}` failed");
    }
    Ok(())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The npm packages of the toolchains, and their locked tree.
const NPM_MANIFEST: &str = include_str!("../toolchains/package.json");
const NPM_LOCK: &str = include_str!("../toolchains/package-lock.json");

/// The folder inmate toolchains are installed into: the one `HOOSEGOW_TOOLCHAINS` names,
/// else `target/toolchains` (and `main` then points `HOOSEGOW_TOOLCHAINS` there).
pub fn toolchains_dir() -> std::path::PathBuf {
    std::env::var_os(hoosegow::inmate::toolchain::ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(
            || crate::build::target_dir().join("toolchains"),
            std::path::PathBuf::from,
        )
}

/// Installs every inmate toolchain, at the versions the library pins: the C packages with
/// apt (as root), componentize-py in a virtualenv and the npm packages (componentize-js,
/// wizer, ruby.wasm) under `target/toolchains/`, so nothing else is installed globally.
/// A stamp file with the pins makes a second run a no-op.
pub fn toolchains() -> Result<()> {
    use hoosegow::inmate::toolchain;
    let root = toolchains_dir();
    let stamp = root.join("installed");
    let pins = format!(
        "{}\n{}\n{NPM_LOCK}",
        toolchain::COMPONENTIZE_PY,
        toolchain::C_APT.join("\n")
    );
    let c_ready = on_path("clang-14")
        && on_path("wasm-ld-14")
        && Path::new("/usr/lib/wasm32-wasi/libc.a").is_file()
        && Path::new("/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a")
            .is_file();
    if !c_ready {
        apt_install(
            toolchain::C_APT,
            "C inmates are built with clang and wasi-libc",
        )?;
    }
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == pins) {
        return Ok(());
    }
    eprintln!(
        "NOTICE: installing the inmate toolchains into {} ({}, {})",
        root.display(),
        toolchain::COMPONENTIZE_PY,
        toolchain::NPM.join(", ")
    );
    std::fs::create_dir_all(&root)?;

    let python = root.join("python");
    if !python.join("bin/python").is_file() {
        let venv = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&python)
            .status();
        if !venv.is_ok_and(|s| s.success()) {
            apt_install(
                &["python3", "python3-venv", "python3-pip"],
                "Python inmates are built with componentize-py, installed in a virtualenv",
            )?;
            run(Command::new("python3").args(["-m", "venv"]).arg(&python))?;
        }
    }
    run(Command::new(python.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(toolchain::COMPONENTIZE_PY))?;

    if !on_path("npm") || !on_path("node") {
        apt_install(
            &["nodejs", "npm"],
            "JavaScript and Ruby inmates are built with npm packages",
        )?;
    }
    for pin in toolchain::NPM {
        let (name, version) = pin.rsplit_once('@').context("a pin is name@version")?;
        if !NPM_MANIFEST.contains(&format!("\"{name}\": \"{version}\"")) {
            bail!("xtask/toolchains/package.json does not pin {pin} as the library does");
        }
    }
    // The whole npm tree is locked (xtask/toolchains/package-lock.json): componentize-js
    // needs packages it does not declare, and a fresh resolution can drop them.
    let node = root.join("node");
    std::fs::create_dir_all(&node)?;
    std::fs::write(node.join("package.json"), NPM_MANIFEST)?;
    std::fs::write(node.join("package-lock.json"), NPM_LOCK)?;
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&node))?;
    std::fs::write(&stamp, pins)?;
    Ok(())
}

fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    eprintln!("==> {shown}");
    // Its chatter goes to stderr: stdout is for what an xtask prints as its result.
    let status = command
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}
