//! The container wall: every jail container runs with DESIGN.md's hardened settings, and
//! the image holds nothing to run but the runner.

use crate::support;
use bollard::models::ContainerCreateBody;
use hoosegow::ContainerLimits;
use hoosegow::docker::container::{Container, ContainerSpec, Mode};
use hoosegow::docker::image;

#[tokio::test]
async fn a_jail_container_has_every_hardening_setting() {
    let docker = support::docker().await;
    let name = support::alias("reverse", "hardening").await;
    let info = image::inspect(&docker, &name).await.unwrap().unwrap();
    let limits = ContainerLimits::default();
    let body = ContainerSpec::default()
        .body(&info, Mode::Ephemeral)
        .unwrap();
    let container = Container::create(&docker, &body, &info.name).await.unwrap();
    let inspected = docker
        .inspect_container(container.id(), None)
        .await
        .unwrap();
    container.remove().await.unwrap();

    let config = inspected.config.unwrap();
    assert_eq!(config.user.as_deref(), Some("65534:65534"));
    assert_eq!(config.network_disabled, Some(true));
    // Docker always sets PATH; the runner passes no environment to the inmate anyway.
    let env = config.env.unwrap_or_default();
    assert!(
        env.iter().all(|e| e.starts_with("PATH=")),
        "no environment but Docker's PATH: {env:?}"
    );
    let labels = config.labels.unwrap();
    assert_eq!(labels.get("hoosegow.jail").map(String::as_str), Some("1"));
    assert_eq!(labels.get("hoosegow.image"), Some(&name));
    assert!(
        labels
            .get("hoosegow.owner")
            .is_some_and(|o| o.contains(&format!(":{}:", std::process::id())))
    );

    let host = inspected.host_config.unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("none"));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!(host.cap_add.unwrap_or_default(), Vec::<String>::new());
    assert_eq!(
        host.security_opt,
        Some(vec!["no-new-privileges".to_string()]),
        "no unconfined profiles either"
    );
    assert_eq!(host.privileged, Some(false));
    assert_eq!(host.ipc_mode.as_deref(), Some("none"));
    let masked = host.masked_paths.unwrap_or_default();
    for path in ["/proc/kcore", "/proc/keys", "/proc/pressure", "/dev/mqueue"] {
        assert!(
            masked.iter().any(|m| m == path),
            "{path} masked: {masked:?}"
        );
    }
    let readonly = host.readonly_paths.unwrap_or_default();
    assert!(readonly.iter().any(|r| r == "/proc/sys"), "{readonly:?}");
    assert_eq!(host.pids_limit, Some(limits.pids));
    assert_eq!(host.memory, Some(limits.memory_bytes));
    assert_eq!(
        host.memory_swap,
        Some(limits.memory_bytes),
        "swap equals memory: no swap"
    );
    assert_eq!(host.nano_cpus, Some(limits.nano_cpus));
    let ulimits = host.ulimits.unwrap();
    let ulimit = |n: &str| {
        ulimits
            .iter()
            .find(|u| u.name.as_deref() == Some(n))
            .map(|u| (u.soft, u.hard))
    };
    assert_eq!(
        ulimit("nofile"),
        Some((Some(limits.nofile), Some(limits.nofile)))
    );
    assert_eq!(ulimit("core"), Some((Some(0), Some(0))), "no core dumps");
    assert_eq!(
        host.binds.unwrap_or_default(),
        Vec::<String>::new(),
        "no mounts"
    );
    assert_eq!(host.devices.unwrap_or_default().len(), 0, "no devices");
    assert_ne!(host.userns_mode.as_deref(), Some("host"));
    assert_ne!(host.pid_mode.as_deref(), Some("host"));
}

#[tokio::test]
async fn the_image_has_no_shell() {
    let docker = support::docker().await;
    let name = support::alias("reverse", "no_shell").await;
    let inspected = docker.inspect_image(&name).await.unwrap();
    let config = inspected.config.unwrap();
    assert_eq!(config.user.as_deref(), Some("65534:65534"));
    assert_eq!(config.entrypoint, Some(vec!["/jail-runner".to_string()]));
    assert_eq!(inspected.os.as_deref(), Some("linux"));

    for shell in ["/bin/sh", "/bin/bash", "/bin/busybox"] {
        let body = ContainerCreateBody {
            image: Some(name.clone()),
            entrypoint: Some(vec![shell.to_string(), "-c".into(), "true".into()]),
            network_disabled: Some(true),
            labels: Some([("hoosegow.image".to_string(), name.clone())].into()),
            ..Default::default()
        };
        let created = docker.create_container(None, body).await.unwrap();
        let started = docker.start_container(&created.id, None).await;
        let options = bollard::query_parameters::RemoveContainerOptionsBuilder::new()
            .force(true)
            .build();
        docker
            .remove_container(&created.id, Some(options))
            .await
            .unwrap();
        let err = started
            .expect_err(&format!("{shell} must not run in a jail image"))
            .to_string();
        assert!(err.contains("no such file or directory"), "{shell}: {err}");
    }
    assert_eq!(support::containers_of(&name).await, 0);
}
