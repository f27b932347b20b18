//! The wasm wall climbed: a test-only probe (`tests/probe/`) takes the runner's place and
//! tries the container wall from there.
//!
//! The probe image is made the way every jail image is: the library's [`Bundle`] (the
//! `Dockerfile.runner` recipe, `FROM scratch`, `USER 65534:65534`, labels), with the probe's
//! static binary where the runner goes and a real inmate beside it. Its containers are
//! created by the library's [`Container::create`], that is with `container::config` and the
//! jail's default limits: a change to the jail's settings is what the probe sees. The probe
//! reports what it observed as JSON; every judgement is made here.

use crate::support;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::{TagImageOptions, WaitContainerOptions};
use futures_util::StreamExt;
use hoosegow::ContainerLimits;
use hoosegow::bundle::Bundle;
use hoosegow::docker::container::{Container, ContainerSpec, Mode};
use hoosegow::docker::image::{self, ImageInfo};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The probe's static binary: `HOOSEGOW_PROBE` (set by `cargo xtask test`), else built here.
fn probe_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HOOSEGOW_PROBE") {
        return PathBuf::from(path);
    }
    support::test_binary("hoosegow-probe", "probe")
}

/// The probe image, built through the library once per test run: a jail image of the
/// `reverse` inmate whose runner is the probe.
fn probe_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            // On a runtime of its own, like support::image, so no client outlives its runtime.
            std::thread::spawn(|| {
                tokio::runtime::Runtime::new().unwrap().block_on(async {
                    let wasm =
                        hoosegow::inmate::compile(&support::inmate("reverse"), &mut |line| {
                            eprintln!("    {line}")
                        })
                        .await
                        .expect("the reverse inmate compiles");
                    let probe = std::fs::read(probe_binary()).expect("the probe binary");
                    let bundle =
                        tokio::task::spawn_blocking(move || Bundle::precompile(&wasm, probe))
                            .await
                            .unwrap()
                            .expect("precompile");
                    let name = bundle.image_name();
                    let docker = support::docker().await;
                    if image::inspect(&docker, &name).await.unwrap().is_none() {
                        image::build(&docker, &bundle, &name, &mut |line| eprintln!("    {line}"))
                            .await
                            .expect("the probe image builds");
                    }
                    name
                })
            })
            .join()
            .expect("probe image thread")
        })
        .clone()
}

/// The probe image under a name of this test's own, read back as the library reads a jail
/// image.
async fn probe_info(docker: &Docker, test: &str) -> ImageInfo {
    let repo = "hoosegow-test/probe".to_string();
    let options = TagImageOptions {
        repo: Some(repo.clone()),
        tag: Some(test.to_string()),
    };
    docker
        .tag_image(&probe_image(), Some(options))
        .await
        .expect("tag the probe image");
    image::inspect(docker, &format!("{repo}:{test}"))
        .await
        .unwrap()
        .expect("the probe image is a jail image")
}

/// What one run of the probe left behind.
struct Run {
    stdout: String,
    stderr: String,
    oom_killed: Option<bool>,
    exit_code: Option<i64>,
}

/// Runs the probe in a jail container of `info` with `limits`, giving it `mode` on stdin as
/// the host gives the runner its calls.
async fn run(docker: &Docker, info: &ImageInfo, limits: &ContainerLimits, mode: &str) -> Run {
    let spec = ContainerSpec {
        limits: limits.clone(),
        ..ContainerSpec::default()
    };
    let body = spec.body(info, Mode::Ephemeral).unwrap();
    let container = Container::create(docker, &body, &info.name).await.unwrap();
    let mut attach = container.attach().await.unwrap();
    container.start().await.unwrap();
    attach
        .input
        .write_all(format!("{mode}\n").as_bytes())
        .await
        .unwrap();
    attach.input.shutdown().await.unwrap();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let read = async {
        while let Some(chunk) = attach.output.next().await {
            match chunk {
                Ok(LogOutput::StdOut { message }) => stdout.extend_from_slice(&message),
                Ok(LogOutput::StdErr { message }) => stderr.extend_from_slice(&message),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("the probe finishes within two minutes");
    // The attach stream ends as the container does; wait until Docker has noted how.
    let mut wait = docker.wait_container(container.id(), None::<WaitContainerOptions>);
    let _ = tokio::time::timeout(Duration::from_secs(30), wait.next()).await;
    let state = docker
        .inspect_container(container.id(), None)
        .await
        .unwrap()
        .state
        .unwrap_or_default();
    container.remove().await.unwrap();
    Run {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        oom_killed: state.oom_killed,
        exit_code: state.exit_code,
    }
}

/// The probe's attempts by id; each must be judged exactly once.
struct Attempts {
    by_id: BTreeMap<String, Value>,
    judged: BTreeSet<String>,
}

impl Attempts {
    fn parse(stdout: &str) -> Attempts {
        let report: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("the probe's report is JSON ({e}): {stdout}"));
        let mut by_id = BTreeMap::new();
        for attempt in report["attempts"].as_array().expect("attempts") {
            let id = attempt["id"].as_str().expect("an id").to_string();
            assert!(
                by_id.insert(id.clone(), attempt.clone()).is_none(),
                "{id} twice"
            );
        }
        Attempts {
            by_id,
            judged: BTreeSet::new(),
        }
    }

    fn get(&mut self, id: &str) -> Value {
        self.judged.insert(id.to_string());
        self.by_id
            .get(id)
            .unwrap_or_else(|| panic!("the probe did not try {id}"))
            .clone()
    }

    /// Asserts that system call `id` was refused with one of `errnos`; records it.
    fn refused(&mut self, id: &str, errnos: &[&str]) {
        let attempt = self.get(id);
        let what = attempt["what"].as_str().unwrap_or_default();
        assert_eq!(
            attempt["ok"],
            Value::Bool(false),
            "the probe could {what}: {attempt}"
        );
        let errno = attempt["errno"].as_str().unwrap_or_default();
        assert!(
            errnos.contains(&errno),
            "{what}: refused with {errno}, expected one of {errnos:?}: {attempt}"
        );
        record(
            area(id),
            what,
            &format!("refused: {errno} ({})", short_error(&attempt)),
        );
    }

    /// What a search found.
    fn found(&mut self, id: &str) -> (String, Vec<String>) {
        let attempt = self.get(id);
        let found = attempt["found"]
            .as_array()
            .unwrap_or_else(|| panic!("{id} has no findings: {attempt}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        (
            attempt["what"].as_str().unwrap_or_default().to_string(),
            found,
        )
    }

    /// An observation's what and content.
    fn observed(&mut self, id: &str) -> (String, Value) {
        let attempt = self.get(id);
        (
            attempt["what"].as_str().unwrap_or_default().to_string(),
            attempt["observed"].clone(),
        )
    }
}

fn short_error(attempt: &Value) -> String {
    let error = attempt["error"].as_str().unwrap_or_default();
    error
        .split(" (os error")
        .next()
        .unwrap_or(error)
        .to_string()
}

/// Records an attempt for SECURITY.md's table, under the probe's `area` so that the
/// table (sorted by attack) keeps each area's attempts together.
fn record(area: &str, attack: &str, outcome: &str) {
    support::record_attack("container", &format!("probe ({area}): {attack}"), outcome);
}

/// The area of an attempt, from its id.
fn area(id: &str) -> &'static str {
    match id.split(['.', ':']).next() {
        Some("fs" | "proc") => "filesystem",
        Some("net") => "network",
        Some("priv") => "privileges",
        Some("bin") => "programs",
        Some("identity") => "identity",
        _ => "limits",
    }
}

/// Character devices that may be opened for writing: they discard what they get or feed
/// the entropy pool (mem 1:3 null, 1:5 zero, 1:7 full, 1:8 random, 1:9 urandom), or open a
/// terminal in the container's own devpts instance (5:2 ptmx). Docker masks /proc files by
/// binding /dev/null over them, so those show up as 1:3.
const HARMLESS_DEVICES: [&str; 6] = ["1:3", "1:5", "1:7", "1:8", "1:9", "5:2"];

#[tokio::test]
async fn a_probe_in_the_runners_place_finds_every_wall_of_the_container_standing() {
    let docker = support::docker().await;
    let info = probe_info(&docker, "walls").await;
    let limits = ContainerLimits::default();
    let run = run(&docker, &info, &limits, "walls").await;
    assert_eq!(
        run.exit_code,
        Some(0),
        "the probe ran to the end; stderr: {}",
        run.stderr
    );
    let mut attempts = Attempts::parse(&run.stdout);

    // Who it is: the jail's user, with nothing extra.
    let (_, me) = attempts.observed("identity");
    assert_eq!(me["uid"], 65534, "{me}");
    assert_eq!(me["euid"], 65534, "{me}");
    assert_eq!(me["gid"], 65534, "{me}");
    for group in me["groups"].as_array().unwrap() {
        assert_eq!(group, 65534, "no supplementary groups: {me}");
    }
    for set in ["cap_inh", "cap_prm", "cap_eff", "cap_bnd", "cap_amb"] {
        assert_eq!(me[set], "0000000000000000", "{set}: no capabilities: {me}");
    }
    assert_eq!(me["no_new_privs"], "1", "{me}");
    assert_eq!(me["seccomp"], "2", "Docker's seccomp filter is on: {me}");
    assert_eq!(
        me["exe"], "/jail-runner",
        "it runs where the runner runs: {me}"
    );
    record(
        "identity",
        "run as the jail's user",
        "uid/gid 65534, no capabilities in any set, no_new_privs, seccomp filter on",
    );

    // The filesystem.
    attempts.refused("fs.create-in-root", &["EROFS"]);
    attempts.refused("fs.mkdir-in-root", &["EROFS"]);
    for id in [
        "fs.create-in-tmp",
        "fs.create-in-var-tmp",
        "fs.create-in-dev-shm",
        "fs.create-in-dev",
        "fs.create-in-proc",
        "fs.create-in-sys",
    ] {
        attempts.refused(id, &["EROFS", "EACCES", "ENOENT", "EPERM"]);
    }
    attempts.refused("fs.write-own-binary", &["EROFS", "EACCES", "ETXTBSY"]);
    attempts.refused("fs.chmod-own-binary", &["EROFS", "EPERM"]);
    attempts.refused("fs.chown-own-binary", &["EROFS", "EPERM"]);
    attempts.refused("fs.write-inmate", &["EROFS", "EACCES"]);
    attempts.refused("fs.mknod", &["EROFS", "EACCES", "EPERM"]);
    attempts.refused("proc.lower-oom-score", &["EACCES", "EPERM"]);
    attempts.refused("proc.uid-map", &["EPERM", "EACCES"]);
    attempts.refused("proc.sysrq", &["ENOENT", "EROFS", "EACCES", "EPERM"]);
    attempts.refused("proc.core-pattern", &["EROFS", "EACCES"]);
    // The kernel lets any process set its audit login uid while it is unset; it must not
    // be able to change it again, and it gains nothing by it (the privileged calls below
    // come after it and still fail).
    let first = attempts.get("proc.loginuid");
    let what = first["what"].as_str().unwrap().to_string();
    if first["ok"] == Value::Bool(true) {
        record(
            "filesystem",
            &what,
            "allowed once by the kernel (an unset audit login uid may be set); an audit \
             label only: every privileged call after it still fails",
        );
        attempts.refused("proc.loginuid-again", &["EPERM"]);
    } else {
        record("filesystem", &what, &format!("refused: {}", first["errno"]));
        attempts.refused("proc.loginuid-again", &["EPERM", "EACCES", "ENOENT"]);
    }
    let (what, sockets) = attempts.found("fs.docker-socket");
    assert_eq!(sockets, Vec::<String>::new(), "{what}");
    record("filesystem", &what, "none");

    let (what, walk) = attempts.observed("fs.walk");
    let (dirs, entries) = (
        walk["directories"].as_u64().unwrap(),
        walk["entries"].as_u64().unwrap(),
    );
    assert!(
        dirs > 100 && entries > 1000,
        "the walk covered the filesystem: {walk}"
    );
    let mut exceptions = BTreeSet::new();
    for entry in walk["writable"].as_array().unwrap() {
        let entry = entry.as_str().unwrap();
        let device = entry
            .rsplit_once("(char device ")
            .map(|(_, d)| d.trim_end_matches(')'));
        if let Some(device) = device.filter(|d| HARMLESS_DEVICES.contains(d)) {
            exceptions.insert(format!("char device {device}"));
            continue;
        }
        // /dev/mqueue and /proc/pressure/ were writable here until the jail masked them.
        panic!("the probe could write to {entry}; all: {walk}");
    }
    record(
        "filesystem",
        &what,
        &format!(
            "refused in all {dirs} directories and for all {entries} other entries, except: {}",
            exceptions.into_iter().collect::<Vec<_>>().join("; ")
        ),
    );

    // The network: loopback only, no route, no raw access.
    for id in ["net.sysfs", "net.procfs", "net.netlink"] {
        let (what, found) = attempts.found(id);
        assert_eq!(found, ["lo"], "{what}");
        record("network", &what, "only lo");
    }
    let (what, found) = attempts.found("net.ioctl");
    assert_eq!(found, ["1:lo"], "{what}");
    record("network", &what, "only lo (index 1)");
    let (what, routes) = attempts.found("net.routes");
    assert_eq!(routes, Vec::<String>::new(), "{what}");
    record("network", &what, "none");
    attempts.refused("net.route-out", &["ENETUNREACH"]);
    for id in ["net.packet-socket", "net.raw-socket", "net.raw-icmp-socket"] {
        attempts.refused(id, &["EPERM"]);
    }

    // Privileges: every privileged call refused.
    for id in [
        "priv.setuid",
        "priv.setgid",
        "priv.setresuid",
        "priv.setgroups",
        "priv.capset",
        "priv.mount",
        "priv.remount-rw",
        "priv.umount-mask",
        "priv.chroot",
        "priv.pivot-root",
        "priv.unshare-user",
        "priv.unshare-mount",
        "priv.unshare-net",
        "priv.unshare-pid",
        "priv.clone-user",
        "priv.setns",
        "priv.ptrace",
        "priv.finit-module",
        "priv.init-module",
        "priv.delete-module",
        "priv.iopl",
        "priv.ioperm",
        "priv.bpf",
        "priv.open-by-handle",
        "priv.keyctl",
        "priv.sethostname",
        "priv.swapon",
        "priv.set-clock",
        "priv.raise-core-limit",
        "priv.raise-nofile-limit",
    ] {
        attempts.refused(id, &["EPERM"]);
    }
    let (what, processes) = attempts.found("priv.processes");
    assert_eq!(processes, [me["pid"].to_string()], "{what}");
    record("privileges", &what, "only itself (its own pid namespace)");
    let (what, devices) = attempts.found("priv.devices");
    for device in &devices {
        let harmless = device.contains("(char ")
            && HARMLESS_DEVICES
                .iter()
                .chain(&["5:0"]) // /dev/tty: without a controlling terminal, ENXIO
                .any(|d| device.ends_with(&format!(" {d})")));
        assert!(harmless, "{what}: {device}");
    }
    record(
        "privileges",
        &what,
        &format!(
            "no block devices; only {}",
            devices
                .iter()
                .map(|d| d.split(' ').next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    // Other programs: none but itself, and nothing else it finds runs.
    let (what, walk) = attempts.observed("bin.walk");
    assert!(walk["files"].as_u64().unwrap() >= 2, "{walk}");
    let programs: Vec<&str> = walk["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        programs.iter().any(|p| p.starts_with("/jail-runner ")),
        "the walk finds the probe itself: {walk}"
    );
    // Everything else the walk flags (Docker's empty /.dockerenv and /etc files of mode
    // 755, the precompiled inmate, an ELF object of mode 444) must fail to run.
    let others: Vec<&str> = programs
        .iter()
        .filter(|p| !p.starts_with("/jail-runner "))
        .map(|p| p.split(" (").next().unwrap())
        .collect();
    for path in &others {
        attempts.refused(&format!("bin.exec:{path}"), &["ENOEXEC", "EACCES"]);
    }
    record(
        "programs",
        &what,
        &format!(
            "none: the probe in the runner's place is the only program; {} other file(s) \
             flagged by mode or content, none runs",
            others.len()
        ),
    );
    for shell in ["/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/env"] {
        attempts.refused(&format!("bin.exec:{shell}"), &["ENOENT"]);
    }

    // Limits.
    let (what, nofile) = attempts.observed("limits.nofile");
    let opened = nofile["opened"].as_i64().unwrap();
    assert_eq!(nofile["errno"], "EMFILE", "{nofile}");
    assert!(opened + 3 <= limits.nofile, "{nofile}");
    record(
        "limits",
        &what,
        &format!("refused (EMFILE) after {opened} files"),
    );
    for (id, count) in [("pids.fork", "forked"), ("pids.threads", "spawned")] {
        let (what, seen) = attempts.observed(id);
        let n = seen[count].as_i64().unwrap();
        assert_eq!(seen["errno"], "EAGAIN", "{what}: {seen}");
        assert!(
            n > 0 && n < limits.pids,
            "{what}: {n} with a limit of {}",
            limits.pids
        );
        record(
            "limits",
            &what,
            &format!(
                "refused (EAGAIN) after {n}: the pids limit is {}",
                limits.pids
            ),
        );
    }

    let unjudged: Vec<&String> = attempts
        .by_id
        .keys()
        .filter(|id| !attempts.judged.contains(*id))
        .collect();
    assert!(unjudged.is_empty(), "attempts nobody checked: {unjudged:?}");
    assert_eq!(support::containers_of(&info.name).await, 0);
}

#[tokio::test]
async fn a_probe_allocating_past_the_memory_limit_is_killed_and_docker_says_so() {
    let docker = support::docker().await;
    let info = probe_info(&docker, "memory").await;
    let limits = ContainerLimits::default();
    let run = run(&docker, &info, &limits, "memory").await;
    let allocated: Vec<i64> = run
        .stdout
        .lines()
        .map(|line| {
            let line: Value = serde_json::from_str(line).unwrap();
            assert_ne!(line["done"], true, "the probe allocated 4 GiB unhindered");
            line["allocated_mib"].as_i64().unwrap()
        })
        .collect();
    let last = allocated.last().copied().unwrap_or(0);
    let limit_mib = limits.memory_bytes >> 20;
    assert!(
        last < limit_mib && last >= limit_mib / 2,
        "it got to {last} MiB of a {limit_mib} MiB limit before it was stopped"
    );
    assert_eq!(run.oom_killed, Some(true), "Docker reports the OOM kill");
    assert_eq!(run.exit_code, Some(137), "killed by SIGKILL");
    record(
        "limits",
        &format!("allocate and touch memory past the {limit_mib} MiB limit"),
        &format!(
            "killed by the kernel's OOM killer at {last} MiB touched; Docker reports OOMKilled"
        ),
    );
    assert_eq!(support::containers_of(&info.name).await, 0);
}
