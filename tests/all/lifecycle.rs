//! Container lifecycle: ephemeral (one container per call, prestarted) and pooled (warm
//! containers, a fresh wasm instance per call), many callers at once, hooks, volumes,
//! and no container left behind, not even by a process that was killed.

use crate::support;
use hoosegow::docker::container::{ContainerSpec, Mode};
use hoosegow::{ContainerInfo, Error, Hoosegow, JailEnd, PoolConfig};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A pooled jail on `image`.
async fn pooled(image: &str, config: PoolConfig) -> Hoosegow {
    Hoosegow::builder()
        .image_name(image.to_string())
        .pooled(config)
        .build()
        .await
        .expect("a pooled jail")
}

/// `tasks` tasks call `reverse` `calls` times each with inputs of their own, checking
/// every result against its own input.
async fn many_callers(jail: &Hoosegow, tasks: usize, calls: usize) -> HashSet<String> {
    let mut running = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let jail = jail.clone();
        running.spawn(async move {
            let mut served_by = Vec::new();
            for call in 0..calls {
                let input = format!("task {task} call {call} ✓");
                let options = jail.options().clone();
                let traced = jail
                    .call_traced("reverse", vec![json!(input)], &options)
                    .await
                    .unwrap();
                let expected: String = input.chars().rev().collect();
                assert_eq!(
                    traced.value,
                    json!(expected),
                    "a result crossed between callers"
                );
                served_by.push(traced.served_by);
            }
            served_by
        });
    }
    let mut containers = HashSet::new();
    while let Some(done) = running.join_next().await {
        containers.extend(done.unwrap());
    }
    containers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pooled_64_tasks_of_200_calls_each() {
    let image = support::alias("reverse", "pooled_64x200").await;
    let config = PoolConfig {
        size: 8,
        ..PoolConfig::default()
    };
    let jail = pooled(&image, config).await;
    let containers = many_callers(&jail, 64, 200).await;
    assert!(
        containers.len() <= 8 + 64,
        "a pool of 8 served {} containers",
        containers.len()
    );
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0, "no container left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ephemeral_64_tasks_each_call_in_its_own_container() {
    let image = support::alias("reverse", "ephemeral_64").await;
    let jail = Hoosegow::builder()
        .image_name(image.clone())
        .ephemeral(4)
        .build()
        .await
        .unwrap();
    let (tasks, calls) = (64, ephemeral_calls_per_task());
    let containers = many_callers(&jail, tasks, calls).await;
    assert_eq!(
        containers.len(),
        tasks * calls,
        "every call ran in a container of its own"
    );
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0, "no container left");
}

/// Calls per task of the ephemeral test: 5, or `HOOSEGOW_EPHEMERAL_CALLS_PER_TASK`. A
/// container per call costs ~100 ms of daemon work on a 2-core machine, so the issue's
/// 64 × 200 (12,800 containers) would take the CI run past its budget on its own; run it
/// by hand with `HOOSEGOW_EPHEMERAL_CALLS_PER_TASK=200`.
fn ephemeral_calls_per_task() -> usize {
    std::env::var("HOOSEGOW_EPHEMERAL_CALLS_PER_TASK")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
}

#[tokio::test]
async fn a_prestarted_container_waits_for_the_next_call_and_cleanup_removes_it() {
    let image = support::alias("reverse", "prestart").await;
    let jail = Hoosegow::builder()
        .image_name(image.clone())
        .build()
        .await
        .unwrap();
    let first = jail
        .call_traced("reverse", vec![json!("ab")], jail.options())
        .await
        .unwrap();
    // The used container goes, the next one is started ahead of the next call. Both happen
    // in the background, in either order: wait for the state where both have happened.
    let settled = |running: &[String]| {
        running.len() == 1 && !running.iter().any(|id| id.starts_with(&first.served_by))
    };
    let mut prestarted = support::running_containers_of(&image).await;
    for _ in 0..600 {
        if settled(&prestarted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        prestarted = support::running_containers_of(&image).await;
    }
    assert!(
        settled(&prestarted),
        "after 30 s, expected one prestarted container and the used one gone; running: {prestarted:?} (used: {})",
        first.served_by
    );
    let second = jail
        .call_traced("reverse", vec![json!("cd")], jail.options())
        .await
        .unwrap();
    assert!(
        prestarted[0].starts_with(&second.served_by),
        "the call ran in the prestarted container"
    );
    assert_ne!(first.served_by, second.served_by);
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0);
}

#[tokio::test]
async fn a_pool_member_killed_mid_call_is_replaced() {
    let (_, image) = support::docker_jail("hostile", "pool_kill").await;
    let config = PoolConfig {
        size: 2,
        ..PoolConfig::default()
    };
    let jail = pooled(&image, config).await;
    let limits = hoosegow::Limits {
        timeout_ms: 60_000,
        ..Default::default()
    };
    let options = jail.options().clone().limits(limits);
    let spin = tokio::spawn({
        let (jail, options) = (jail.clone(), options.clone());
        async move { jail.call_traced("spin", vec![], &options).await }
    });
    // Find the container serving the spin: the one still busy after the pool is warm.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = jail
        .call_traced("burn", vec![json!(1)], &options)
        .await
        .unwrap()
        .served_by;
    let busy: Vec<String> = support::running_containers_of(&image)
        .await
        .into_iter()
        .filter(|id| !id.starts_with(&idle))
        .collect();
    assert_eq!(busy.len(), 1, "one container is running the spin: {busy:?}");
    let docker = support::docker().await;
    docker
        .kill_container(
            &busy[0],
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .unwrap();
    let err = spin.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::JailEnded {
                cause: JailEnd::Killed,
                ..
            }
        ),
        "{err:?}"
    );
    for i in 0..10u64 {
        let traced = jail
            .call_traced("burn", vec![json!(i)], &options)
            .await
            .unwrap();
        assert!(
            !busy[0].starts_with(&traced.served_by),
            "the killed member serves no more calls"
        );
    }
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0);
    support::record_attack(
        "container",
        "pool member killed mid-call",
        "JailEnded(killed) for that call; the member is replaced; later calls succeed",
    );
}

#[tokio::test]
async fn hooks_fire_in_order_with_the_container_id() {
    let image = support::alias("reverse", "hooks").await;
    let seen: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::default();
    let hook = |name: &'static str| {
        let seen = seen.clone();
        move |info: &ContainerInfo| seen.lock().unwrap().push((name, info.id.clone()))
    };
    let jail = Hoosegow::builder()
        .image_name(image.clone())
        .ephemeral(0)
        .after_create(hook("after_create"))
        .after_start(hook("after_start"))
        .after_stop(hook("after_stop"))
        .build()
        .await
        .unwrap();
    let mut served = Vec::new();
    for input in ["one", "two", "three"] {
        served.push(
            jail.call_traced("reverse", vec![json!(input)], jail.options())
                .await
                .unwrap()
                .served_by,
        );
    }
    jail.cleanup().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 9, "{seen:?}");
    // Containers overlap (one is removed while the next serves), each in its own order.
    for (i, served_by) in served.iter().enumerate() {
        let of_this: Vec<&str> = seen
            .iter()
            .filter(|(_, id)| id.starts_with(served_by.as_str()))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            of_this,
            ["after_create", "after_start", "after_stop"],
            "call {i}: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_rw_volume_is_writable_and_a_default_one_is_not() {
    let dir = support::workspace().join("target/volumes-test");
    let (ro, rw) = (dir.join("ro"), dir.join("rw"));
    for d in [&ro, &rw] {
        std::fs::create_dir_all(d).unwrap();
        // The runner is user 65534: let it try, so only the mount's mode can refuse it.
        std::process::Command::new("chmod")
            .arg("0777")
            .arg(d)
            .status()
            .unwrap();
    }
    let _ = std::fs::remove_file(rw.join("probe"));
    let image = support::impostor_image("volumes").await;
    let jail = Hoosegow::builder()
        .image_name(image.clone())
        .ephemeral(0)
        .volume(format!("{}:/ro", ro.display()))
        .volume(format!("{}:/rw:rw", rw.display()))
        .build()
        .await
        .unwrap();
    let report = jail.call("reverse", vec![json!("x")]).await.unwrap();
    let report = report.as_str().unwrap();
    assert!(
        report.starts_with("ro: refused (Read-only file system"),
        "{report}"
    );
    assert!(report.ends_with("rw: written"), "{report}");
    assert_eq!(
        std::fs::read_to_string(rw.join("probe")).unwrap(),
        "written from inside"
    );
    assert!(!ro.join("probe").exists());
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0);
}

#[tokio::test]
async fn a_pass_through_is_merged_and_cannot_take_walls_down() {
    let image = support::alias("reverse", "passthrough").await;
    let extra = json!({"HostConfig": {"Dns": ["10.9.8.7"]}, "Labels": {"team": "graders"}});
    let info = hoosegow::docker::image::inspect(&support::docker().await, &image)
        .await
        .unwrap()
        .unwrap();
    let spec = ContainerSpec {
        passthrough: Some(extra.clone()),
        ..ContainerSpec::default()
    };
    let body = spec.body(&info, Mode::Ephemeral).unwrap();
    let host = body.host_config.as_ref().unwrap();
    assert_eq!(host.dns, Some(vec!["10.9.8.7".to_string()]), "merged");
    assert_eq!(
        host.cap_drop,
        Some(vec!["ALL".to_string()]),
        "the jail's own settings stay"
    );
    assert_eq!(host.network_mode.as_deref(), Some("none"));
    let labels = body.labels.as_ref().unwrap();
    assert_eq!(labels.get("team").map(String::as_str), Some("graders"));
    assert!(
        labels.contains_key("hoosegow.jail"),
        "the jail's labels stay"
    );

    let jail = Hoosegow::builder()
        .image_name(image.clone())
        .ephemeral(0)
        .container_config(extra)
        .build()
        .await
        .unwrap();
    assert_eq!(
        jail.call("reverse", vec![json!("ab")]).await.unwrap(),
        json!("ba"),
        "Docker takes it"
    );
    jail.cleanup().await.unwrap();

    for (weakening, says) in [
        (json!({"HostConfig": {"Privileged": true}}), "privileged"),
        (
            json!({"HostConfig": {"SecurityOpt": ["seccomp=unconfined", "no-new-privileges"]}}),
            "unconfined",
        ),
        (
            json!({"HostConfig": {"SecurityOpt": []}}),
            "no-new-privileges",
        ),
        (json!({"HostConfig": {"MaskedPaths": []}}), "MaskedPaths"),
        (
            json!({"HostConfig": {"ReadonlyPaths": ["/proc/bus"]}}),
            "ReadonlyPaths leaves out `/proc/fs`",
        ),
    ] {
        let jail = Hoosegow::builder()
            .image_name(image.clone())
            .ephemeral(0)
            .container_config(weakening)
            .build()
            .await
            .unwrap();
        let err = jail.call("reverse", vec![json!("x")]).await.unwrap_err();
        assert!(
            matches!(err, Error::Config(_)) && err.to_string().contains(says),
            "{err}"
        );
    }
    assert_eq!(support::containers_of(&image).await, 0);
    support::record_attack(
        "container",
        "pass-through asking for Privileged, seccomp=unconfined, no no-new-privileges, or fewer masked or read-only paths",
        "refused with Error::Config before any container is created",
    );
}

#[tokio::test]
async fn leftovers_of_a_killed_process_are_removed_by_the_next_start_and_by_prune() {
    let image = support::alias("hostile", "leftovers").await;
    for remover in ["next start", "hoosegow prune"] {
        // A process that holds a jail, killed with SIGKILL mid-call: it cannot clean up.
        let mut holder = crate::bad_input::cli()
            .args(["call", "--image", &image, "--timeout-ms", "60000", "spin"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut waited = 0;
        while support::running_containers_of(&image).await.is_empty() && waited < 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += 1;
        }
        assert!(
            !support::running_containers_of(&image).await.is_empty(),
            "the holder's call is running"
        );
        // Killed, not yet reaped: a zombie still looks alive to the prunes that other
        // tests' jails run at their start, so none of them can take the leftover away
        // before it is seen.
        holder.kill().unwrap();
        assert!(
            support::containers_of(&image).await > 0,
            "the killed process left its containers"
        );
        holder.wait().unwrap();

        match remover {
            "next start" => drop(
                Hoosegow::builder()
                    .image_name(image.clone())
                    .ephemeral(0)
                    .build()
                    .await
                    .unwrap(),
            ),
            _ => {
                let out = crate::bad_input::cli().arg("prune").output().unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        assert_eq!(
            support::containers_of(&image).await,
            0,
            "{remover} removed the leftovers"
        );
    }
    support::record_attack(
        "host",
        "application killed (SIGKILL) while holding jails",
        "its containers are labelled with their owner and removed by the next start or `hoosegow prune`",
    );
}

#[tokio::test]
async fn dropping_the_last_handle_removes_the_jails_containers() {
    // A current-thread runtime cannot run anything while its one thread is in the drop:
    // the drop must remove the containers all the same, before it returns.
    for (mode, lifecycle) in [
        ("ephemeral", None),
        (
            "pooled",
            Some(PoolConfig {
                size: 2,
                ..PoolConfig::default()
            }),
        ),
    ] {
        let image = support::alias("reverse", &format!("drop-{mode}")).await;
        let builder = Hoosegow::builder().image_name(image.clone());
        let jail = match lifecycle {
            Some(config) => builder.pooled(config),
            None => builder.ephemeral(1),
        }
        .build()
        .await
        .unwrap();
        let clone = jail.clone();
        assert_eq!(
            clone.call("reverse", vec![json!("ab")]).await.unwrap(),
            json!("ba")
        );
        // Wait until the prestarted (or second pooled) container runs: something to remove.
        for _ in 0..600 {
            if !support::running_containers_of(&image).await.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            !support::running_containers_of(&image).await.is_empty(),
            "{mode}: a container is up before the drop"
        );
        drop(jail);
        assert!(
            support::containers_of(&image).await > 0,
            "{mode}: a clone keeps the jail"
        );
        drop(clone);
        assert_eq!(
            support::containers_of(&image).await,
            0,
            "{mode}: the last drop removed every container"
        );
    }
}

#[tokio::test]
async fn a_pool_member_is_replaced_after_its_calls_and_after_a_failure() {
    let image = support::alias("hostile", "pool_replace").await;
    let config = PoolConfig {
        size: 1,
        calls_per_container: 3,
        ..PoolConfig::default()
    };
    let jail = pooled(&image, config).await;
    let options = jail.options().clone();
    let mut served = Vec::new();
    for i in 0..6u64 {
        let traced = jail
            .call_traced("burn", vec![json!(i)], &options)
            .await
            .unwrap();
        served.push(traced.served_by);
    }
    assert!(
        served[0] == served[1] && served[1] == served[2],
        "one member serves its 3 calls: {served:?}"
    );
    assert!(
        served[3] != served[2] && served[3] == served[4] && served[4] == served[5],
        "then its successor serves 3: {served:?}"
    );

    jail.cleanup().await.unwrap();

    // A trap, a timeout: the member that ran it is retired; the next call is in another.
    // One member, which would serve 1,000 calls: only the failure can retire it.
    let config = PoolConfig {
        size: 1,
        ..PoolConfig::default()
    };
    let jail = pooled(&image, config).await;
    let options = jail.options().clone();
    let short = options.clone().limits(hoosegow::Limits {
        timeout_ms: 200,
        ..Default::default()
    });
    for (what, func, args, failing) in [
        ("timeout", "spin", vec![], &short),
        ("trap", "recurse", vec![json!(100_000_000u64)], &options),
    ] {
        let before = jail
            .call_traced("burn", vec![json!(1)], &options)
            .await
            .unwrap()
            .served_by;
        let err = jail.call_with(func, args, failing).await.unwrap_err();
        assert!(
            matches!(err, Error::LimitExceeded { .. }),
            "{what}: {err:?}"
        );
        let after = jail
            .call_traced("burn", vec![json!(1)], &options)
            .await
            .unwrap()
            .served_by;
        assert_ne!(before, after, "{what}: the member that failed was replaced");
    }
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0);
}

#[tokio::test]
async fn a_caller_waits_for_a_busy_pool_no_longer_than_its_queue_timeout() {
    let image = support::alias("hostile", "pool_queue").await;
    let config = PoolConfig {
        size: 1,
        queue_timeout: Duration::from_millis(300),
        ..PoolConfig::default()
    };
    let jail = pooled(&image, config).await;
    // Warm: the one member is up.
    jail.call("burn", vec![json!(1)]).await.unwrap();
    let long = jail.options().clone().limits(hoosegow::Limits {
        timeout_ms: 3_000,
        ..Default::default()
    });
    let spin = tokio::spawn({
        let (jail, long) = (jail.clone(), long.clone());
        async move { jail.call_with("spin", vec![], &long).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let err = jail.call("burn", vec![json!(1)]).await.unwrap_err();
    let waited = started.elapsed();
    match &err {
        Error::PoolBusy { size, waited } => {
            assert_eq!((*size, *waited), (1, Duration::from_millis(300)))
        }
        other => panic!("expected PoolBusy, got {other:?}"),
    }
    // A correctness bound: the spin holds the member for seconds.
    assert!(waited < Duration::from_secs(2), "gave up after {waited:?}");
    let spun = spin.await.unwrap().unwrap_err();
    assert!(matches!(spun, Error::LimitExceeded { .. }), "{spun:?}");
    assert_eq!(
        jail.call("burn", vec![json!(10)]).await.unwrap(),
        json!(45),
        "the pool serves again"
    );
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0);
}
