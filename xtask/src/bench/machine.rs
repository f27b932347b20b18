//! What the bench ran on: a figure means little without the machine and its load.

use anyhow::Result;
use bollard::Docker;
use serde::Serialize;
use std::process::Command;

/// The machine, as the report describes it.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub cgroup: String,
    pub docker: String,
    pub rust: String,
    pub commit: String,
    /// The 1-minute load average when the run started and when it ended.
    pub load_at_start: f64,
    pub load_at_end: f64,
}

impl Machine {
    /// Looks at this machine and the Docker daemon behind `docker`.
    pub async fn describe(docker: &Docker) -> Result<Machine> {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown".into(), |(_, name)| name.trim().to_string());
        let memory_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        // cgroup v2 mounts one unified hierarchy with cgroup.controllers at its root.
        let cgroup = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            "v2"
        } else {
            "v1"
        };
        let version = docker.version().await?;
        let docker = format!(
            "{} (API {})",
            version.version.unwrap_or_default(),
            version.api_version.unwrap_or_default()
        );
        Ok(Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: crate::bench::stats::round(memory_kib / (1024.0 * 1024.0), 1),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            cgroup: cgroup.into(),
            docker,
            rust: output("rustc", &["--version"]),
            // "-dirty" when the work tree differs from the commit: the figures are of the tree.
            commit: output("git", &["describe", "--always", "--dirty"]),
            load_at_start: load(),
            load_at_end: 0.0,
        })
    }

    /// One line for the report.
    pub fn line(&self) -> String {
        format!(
            "{} cores ({}), {} GiB, Linux {} (cgroup {}), Docker {}, {}, commit {}; load average {:.2} at start, {:.2} at end",
            self.cores,
            self.cpu,
            self.memory_gib,
            self.kernel,
            self.cgroup,
            self.docker,
            self.rust,
            self.commit,
            self.load_at_start,
            self.load_at_end
        )
    }
}

/// The 1-minute load average.
pub fn load() -> f64 {
    read("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(f64::NAN)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".into(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
}
