//! `jail-runner`: the entrypoint of every Hoosegow image.
//!
//! ```text
//! jail-runner --artifact-sha256 HEX [--artifact PATH] [--max-frame BYTES]
//! ```
//!
//! Verifies the precompiled inmate against the hash the host read from the image label,
//! then serves calls on stdin/stdout (see `jail_runner::serve`). Diagnostics go to stderr,
//! which is never part of the protocol.

use jail_runner::{Jail, engine, serve};
use std::io::{self, Write};
use std::process::ExitCode;

const USAGE: &str =
    "usage: jail-runner --artifact-sha256 HEX [--artifact PATH] [--max-frame BYTES]";

struct Args {
    artifact: String,
    sha256: String,
    max_frame: usize,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        artifact: "/inmate.cwasm".into(),
        sha256: String::new(),
        max_frame: serve::DEFAULT_MAX_FRAME,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--artifact" => parsed.artifact = value()?,
            "--artifact-sha256" => parsed.sha256 = value()?,
            "--max-frame" => {
                parsed.max_frame = value()?.parse().map_err(|e| format!("--max-frame: {e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if parsed.sha256.is_empty() {
        return Err(
            "--artifact-sha256 is required: the runner loads nothing it cannot verify".into(),
        );
    }
    Ok(parsed)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("jail-runner: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let loaded = std::fs::read(&args.artifact)
        .map_err(|e| format!("cannot read {}: {e}", args.artifact))
        .and_then(|cwasm| {
            let engine = engine::new(2).map_err(|e| format!("cannot start wasmtime: {e:#}"))?;
            Jail::load_precompiled(&engine, &cwasm, &args.sha256).map_err(|e| e.to_string())
        });
    let jail = match loaded {
        Ok(jail) => jail,
        Err(message) => {
            eprintln!("jail-runner: {message}");
            let _ = serve::refuse(&mut io::stdout().lock(), message);
            return ExitCode::from(3);
        }
    };
    match serve::serve(&jail, hostname(), io::stdin(), io::stdout(), args.max_frame) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "jail-runner: {e}");
            ExitCode::from(4)
        }
    }
}
