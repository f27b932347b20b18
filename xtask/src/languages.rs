//! `cargo xtask languages`: the same inmate in every language, measured. For each
//! language: the image's size, the first call and the median of 20 further calls through
//! Docker with a container per call, through Docker with a pool of one warm container, and
//! in-process (each call a fresh wasm instance in all three), and the runner's peak memory
//! (VmHWM) over 21 calls served by the static runner itself.
//!
//! Prints a Markdown table (README's "Inmates in other languages") and writes it to
//! `target/languages.md`.

use crate::build;
use anyhow::{Context, Result, bail};
use hoosegow::{Hoosegow, Limits, PoolConfig, Value};
use hoosegow_wire::frame::{self, Frame, Kind};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Calls measured after the first one.
const CALLS: usize = 20;

struct Case {
    language: &'static str,
    inmate: &'static str,
    func: &'static str,
    args: Vec<Value>,
}

fn cases() -> Vec<Case> {
    let reverse = |language, inmate| Case {
        language,
        inmate,
        func: "reverse",
        args: vec![json!("foobar")],
    };
    vec![
        reverse("Rust", "reverse"),
        reverse("Python", "reverse-py"),
        reverse("JavaScript", "reverse-js"),
        reverse("C", "reverse-c"),
        Case {
            language: "Ruby (script)",
            inmate: "ruby",
            func: "eval",
            args: vec![json!("print $stdin.read.reverse"), json!("foobar")],
        },
    ]
}

struct Row {
    language: &'static str,
    inmate: &'static str,
    image_mb: f64,
    docker_first: Duration,
    docker_median: Duration,
    pooled_first: Duration,
    pooled_median: Duration,
    in_process_first: Duration,
    in_process_median: Duration,
    peak_mb: f64,
}

/// Measures the cases of `only` (inmate folder names), or all of them.
pub async fn run(only: &[String]) -> Result<()> {
    let runner = build::runner()?;
    let mut rows = Vec::new();
    let cases = cases()
        .into_iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| o == c.inmate));
    for case in cases {
        let dir = build::workspace().join("inmates").join(case.inmate);
        let image = build::inmate(&dir).await?;
        let image_mb = docker_format(&image, "{{.Size}}")?.parse::<f64>()? / 1e6;

        let jail = Hoosegow::builder()
            .image_name(image.clone())
            .build()
            .await?;
        let (docker_first, docker_median) = timings(&jail, &case).await?;
        let pool = PoolConfig {
            size: 1,
            ..PoolConfig::default()
        };
        let jail = Hoosegow::builder()
            .image_name(image.clone())
            .pooled(pool)
            .build()
            .await?;
        let (pooled_first, pooled_median) = timings(&jail, &case).await?;
        let jail = Hoosegow::builder()
            .inmate_dir(&dir)
            .in_process()
            .build()
            .await?;
        let (in_process_first, in_process_median) = timings(&jail, &case).await?;
        let peak_mb = runner_peak(&runner, &image, &case)? / 1e6;
        let row = Row {
            language: case.language,
            inmate: case.inmate,
            image_mb,
            docker_first,
            docker_median,
            pooled_first,
            pooled_median,
            in_process_first,
            in_process_median,
            peak_mb,
        };
        eprintln!("{}", line(&row));
        rows.push(row);
    }
    let mut table = String::from(
        "| language | inmate | image | Docker, a container per call: first call | median of 20 | Docker, pooled: first call | median of 20 | in-process: first call | median of 20 | runner peak memory |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &rows {
        table.push_str(&line(row));
        table.push('\n');
    }
    let out = build::target_dir().join("languages.md");
    std::fs::write(&out, &table)?;
    println!("{table}");
    eprintln!("(written to {})", out.display());
    Ok(())
}

fn line(row: &Row) -> String {
    format!(
        "| {} | `inmates/{}` | {:.1} MB | {} | {} | {} | {} | {} | {} | {:.0} MB |",
        row.language,
        row.inmate,
        row.image_mb,
        ms(row.docker_first),
        ms(row.docker_median),
        ms(row.pooled_first),
        ms(row.pooled_median),
        ms(row.in_process_first),
        ms(row.in_process_median),
        row.peak_mb
    )
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// The first call on a new jail, then the median of [`CALLS`] more.
async fn timings(jail: &Hoosegow, case: &Case) -> Result<(Duration, Duration)> {
    let call = async || -> Result<Duration> {
        let started = Instant::now();
        jail.call(case.func, case.args.clone())
            .await
            .with_context(|| format!("{} {}", case.inmate, case.func))?;
        Ok(started.elapsed())
    };
    let first = call().await?;
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        times.push(call().await?);
    }
    times.sort();
    Ok((first, times[CALLS / 2]))
}

/// `docker image inspect -f FORMAT image`.
fn docker_format(image: &str, format: &str) -> Result<String> {
    let out = Command::new("docker")
        .args(["image", "inspect", "-f", format, image])
        .output()
        .context("cannot run docker")?;
    if !out.status.success() {
        bail!(
            "docker image inspect {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// The static runner's peak resident memory (bytes) serving 1 + [`CALLS`] calls of the
/// image's own artifact, run as a process here so that its VmHWM can be read.
fn runner_peak(runner: &Path, image: &str, case: &Case) -> Result<f64> {
    let sha = docker_format(
        image,
        "{{index .Config.Labels \"hoosegow.artifact-sha256\"}}",
    )?;
    let artifact = build::target_dir().join(format!("languages-{}.cwasm", case.inmate));
    let created = Command::new("docker").args(["create", image]).output()?;
    if !created.status.success() {
        bail!(
            "docker create {image}: {}",
            String::from_utf8_lossy(&created.stderr)
        );
    }
    let container = String::from_utf8(created.stdout)?.trim().to_string();
    let copied = Command::new("docker")
        .args(["cp", &format!("{container}:/inmate.cwasm")])
        .arg(&artifact)
        .status();
    let _ = Command::new("docker")
        .args(["rm", &container])
        .stdout(Stdio::null())
        .status();
    if !copied?.success() {
        bail!("cannot copy the artifact out of {image}");
    }

    let mut child = Command::new(runner)
        .arg("--artifact")
        .arg(&artifact)
        .args(["--artifact-sha256", &sha])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the runner")?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let max = 64 << 20;
    let hello = frame::read(&mut stdout, max)?.context("the runner said nothing")?;
    if hello.kind != Kind::Hello {
        bail!("the runner refused the artifact: {:?}", hello.kind);
    }
    for id in 1..=(CALLS as u32 + 1) {
        let call = json!({ "func": case.func, "args": case.args, "limits": Limits::default() });
        frame::write(
            &mut stdin,
            &Frame::new(Kind::Call, id, serde_json::to_vec(&call)?),
        )?;
        stdin.flush()?;
        loop {
            let frame = frame::read(&mut stdout, max)?.context("the runner ended mid-call")?;
            match frame.kind {
                Kind::Return => break,
                Kind::Failure => bail!(
                    "{} failed in the runner: {}",
                    case.inmate,
                    String::from_utf8_lossy(&frame.payload)
                ),
                _ => {}
            }
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    drop(stdin);
    child.wait()?;
    let _ = std::fs::remove_file(&artifact);
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/<runner>/status")?;
    Ok(kb * 1024.0)
}
