//! `fuzz`: runs the libFuzzer targets in `fuzz/` for a fixed time each and reports what
//! they did.
//!
//! cargo-fuzz builds with AddressSanitizer (`-Zsanitizer=address`), a nightly flag. Only a
//! stable toolchain is available here, so the build runs with `RUSTC_BOOTSTRAP=1`, which
//! lets stable rustc accept it; the coverage instrumentation libFuzzer needs is stable
//! already. The targets live in a workspace of their own so that none of this touches the
//! main build. Seeds (valid frames and values) are written on the first run; the corpus
//! grows in `fuzz/corpus/` and crashes land in `fuzz/artifacts/`, both ignored by git.

use anyhow::{Context, Result, bail};
use hoosegow_wire::frame::{Frame, Kind};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The targets in `fuzz/fuzz_targets/`.
pub const TARGETS: [&str; 2] = ["frames", "values"];

/// What one target's run did.
struct Outcome {
    target: String,
    runs: u64,
    per_second: u64,
    seconds: f64,
    corpus: usize,
    peak_rss_mb: u64,
    crashes: Vec<PathBuf>,
}

/// Runs each of `targets` (all when empty) for `seconds`.
pub fn run(seconds: u64, targets: &[String]) -> Result<()> {
    let targets: Vec<String> = if targets.is_empty() {
        TARGETS.iter().map(|t| t.to_string()).collect()
    } else {
        targets.to_vec()
    };
    for target in &targets {
        if !TARGETS.contains(&target.as_str()) {
            bail!(
                "no fuzz target `{target}`; there are {}",
                TARGETS.join(", ")
            );
        }
    }
    install_cargo_fuzz()?;
    let mut outcomes = Vec::new();
    for target in &targets {
        seed(target)?;
        outcomes.push(fuzz(target, seconds)?);
    }
    eprintln!();
    let mut crashed = false;
    for o in &outcomes {
        println!(
            "{}: {} runs in {:.0} s ({} exec/s), corpus {} inputs, peak RSS {} MB, {}",
            o.target,
            o.runs,
            o.seconds,
            o.per_second,
            o.corpus,
            o.peak_rss_mb,
            if o.crashes.is_empty() {
                "no crash".to_string()
            } else {
                format!("CRASHED: {}", list(&o.crashes))
            }
        );
        crashed |= !o.crashes.is_empty();
    }
    if crashed {
        bail!(
            "a fuzz target crashed; reproduce with `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <artifact>`"
        );
    }
    Ok(())
}

fn fuzz_dir() -> PathBuf {
    crate::build::workspace().join("fuzz")
}

fn install_cargo_fuzz() -> Result<()> {
    let installed = Command::new(crate::cargo_bin())
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        crate::cargo(&["install", "cargo-fuzz", "--locked"])?;
    }
    Ok(())
}

fn fuzz(target: &str, seconds: u64) -> Result<Outcome> {
    let dir = fuzz_dir();
    let corpus = dir.join("corpus").join(target);
    // Where cargo fuzz tells libFuzzer to write crashing inputs.
    let artifacts = dir.join("artifacts").join(target);
    std::fs::create_dir_all(&artifacts)?;
    let before = files(&artifacts);
    let target_dir = crate::build::target_dir().join("fuzz");
    eprintln!("==> cargo fuzz run {target} for {seconds} s (the first run builds for minutes)");
    let started = Instant::now();
    let mut child = Command::new(crate::cargo_bin())
        .args(["fuzz", "run", target, "--target-dir"])
        .arg(&target_dir)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!(
            "-dict={}",
            dir.join("dict").join(format!("{target}.dict")).display()
        ))
        .args(["-print_final_stats=1", "-timeout=10", "-rss_limit_mb=2048"])
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(&dir)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo fuzz")?;
    let mut stats = std::collections::HashMap::new();
    for line in BufReader::new(child.stderr.take().expect("piped")).lines() {
        let line = line?;
        if let Some((key, value)) = line.strip_prefix("stat::").and_then(|s| s.split_once(':')) {
            stats.insert(key.to_string(), value.trim().parse::<u64>().unwrap_or(0));
        }
        // libFuzzer reports every new input; keep its milestones, errors and crashes.
        let event = line.split_whitespace().nth(1).unwrap_or_default();
        let chatter = ["# Uses:", "Recommended dictionary"];
        if !matches!(event, "NEW" | "REDUCE") && !chatter.iter().any(|c| line.contains(c)) {
            eprintln!("    {line}");
        }
    }
    let status = child.wait()?;
    let crashes: Vec<PathBuf> = files(&artifacts)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if !status.success() && crashes.is_empty() {
        bail!("cargo fuzz run {target} failed ({status}) without leaving an artifact");
    }
    Ok(Outcome {
        target: target.to_string(),
        runs: stats.get("number_of_executed_units").copied().unwrap_or(0),
        per_second: stats.get("average_exec_per_sec").copied().unwrap_or(0),
        seconds: started.elapsed().as_secs_f64().min(seconds as f64 + 1.0),
        corpus: files(&corpus).len(),
        peak_rss_mb: stats.get("peak_rss_mb").copied().unwrap_or(0),
        crashes,
    })
}

fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes a few valid inputs into an empty corpus, so the fuzzer starts from the shapes
/// the host really sees instead of from nothing.
fn seed(target: &str) -> Result<()> {
    let corpus = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    if !files(&corpus).is_empty() {
        return Ok(());
    }
    let seeds = match target {
        "frames" => frame_seeds(),
        _ => value_seeds(),
    };
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(corpus.join(format!("seed-{i}")), seed)?;
    }
    Ok(())
}

/// A session as a runner writes it: hello, output, a callback, a result, a failure; the
/// first byte is how the target cuts the stream.
fn frame_seeds() -> Vec<Vec<u8>> {
    let world = json!({
        "exports": [
            {"name": "reverse", "params": [{"name": "input", "ty": "string"}], "result": "string"},
            {"name": "points", "params": [], "result": {"list": {"record": [
                {"name": "x", "ty": "s32"}, {"name": "y", "ty": {"option": "f64"}}]}}},
        ],
        "imports": [
            {"name": "yield", "params": [{"name": "value", "ty": "string"}], "result": null},
            {"name": "ask", "params": [{"name": "q", "ty": {"result": {"ok": "u8", "err": null}}}],
             "result": {"enum": ["yes", "no"]}},
        ],
    });
    let hello = json!({
        "protocol": 1, "runner": "0.1.0", "artifact_sha256": "0".repeat(64),
        "world": world, "hostname": "jail",
    });
    let frame = |kind, call, payload: &serde_json::Value| {
        Frame::new(kind, call, serde_json::to_vec(payload).expect("JSON")).encode()
    };
    let session: Vec<Vec<u8>> = vec![
        frame(Kind::Hello, 0, &hello),
        Frame::new(Kind::Stdout, 1, b"hello from the inmate\n".to_vec()).encode(),
        frame(Kind::Callback, 1, &json!({"name": "yield", "args": ["x"]})),
        frame(
            Kind::Callback,
            1,
            &json!({"name": "ask", "args": [{"ok": 3}]}),
        ),
        frame(Kind::Return, 1, &json!("raboof")),
        frame(
            Kind::Return,
            2,
            &json!([{"x": -1, "y": null}, {"x": 2, "y": "NaN"}]),
        ),
        frame(
            Kind::Failure,
            3,
            &json!({"kind": "trap", "message": "unreachable", "backtrace": ["0: f"]}),
        ),
    ];
    let mut seeds = Vec::new();
    for cut in [0u8, 3, 15] {
        let mut all = vec![cut];
        all.extend(session.iter().flatten());
        seeds.push(all);
    }
    for frame in &session {
        let mut one = vec![7u8];
        one.extend(frame);
        seeds.push(one);
    }
    seeds
}

/// Types in the `values` target's byte grammar (see its source), each with a value.
fn value_seeds() -> Vec<Vec<u8>> {
    let pairs: [(&[u8], &str); 8] = [
        (&[13, 6], "[1, 2, 4294967295]"),
        (&[14, 14, 2], r#"{"some": null}"#),
        (&[16, 2, 6, 12], r#"{"a": 1, "b": "x"}"#),
        (&[17, 1, 1, 6, 0], r#"{"some": 5}"#),
        (&[20, 3, 6, 12], r#"{"ok": 1}"#),
        (&[19, 2], r#"["a", "b"]"#),
        (&[10], r#""NaN""#),
        (&[11], "\"\u{1f980}\""),
    ];
    pairs
        .iter()
        .map(|(shape, value)| [shape, &[0][..], value.as_bytes()].concat())
        .collect()
}
