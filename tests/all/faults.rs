//! Faults: a Docker endpoint that talks garbage or hangs up, a runner that lies, a
//! container killed mid-call, an artifact changed after the image was labelled. Each is a
//! typed error, with no panic, no hang and no container left behind.

use crate::support;
use hoosegow::{Endpoint, Error, Hoosegow, JailEnd};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A fake daemon on loopback: accepts, then does `behaviour` with each connection.
async fn fake_daemon(behaviour: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                match behaviour {
                    "close" => drop(socket),
                    "garbage" => {
                        let _ = socket.read(&mut request).await;
                        let _ = socket
                            .write_all(b"\x00\xffNOT HTTP AT ALL\r\n\r\n\x13\x37")
                            .await;
                    }
                    "bad-json" => {
                        let _ = socket.read(&mut request).await;
                        let body = "{\"ApiVersion\": [1, 2";
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.write_all(body.as_bytes()).await;
                    }
                    _ => {
                        // Silent: read and hold the connection open.
                        let _ = socket.read(&mut request).await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_daemon_that_talks_garbage_or_hangs_up_is_a_typed_error() {
    for behaviour in ["close", "garbage", "bad-json", "silent"] {
        let port = fake_daemon(behaviour).await;
        let endpoint = Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        let built = tokio::time::timeout(
            Duration::from_secs(30),
            Hoosegow::builder()
                .image_name("x".to_string())
                .endpoint(endpoint)
                .build(),
        )
        .await
        .unwrap_or_else(|_| panic!("{behaviour}: building the jail hung"));
        let err = built
            .err()
            .unwrap_or_else(|| panic!("{behaviour}: a fake daemon was accepted"));
        assert!(
            matches!(err, Error::DockerUnreachable { .. }),
            "{behaviour}: {err:?}"
        );
        assert!(
            err.to_string().contains(&format!("tcp://127.0.0.1:{port}")),
            "{behaviour}: {err}"
        );
    }
    support::record_attack(
        "host",
        "Docker endpoint that hangs up, talks garbage, sends bad JSON, or stays silent",
        "DockerUnreachable naming the endpoint; no hang (10 s connect deadline)",
    );
}

/// What a test expects of an error.
type Expect = fn(&Error) -> bool;

#[tokio::test]
async fn a_lying_runner_is_caught_and_its_container_removed() {
    let cases: [(&str, Expect); 7] = [
        ("garbage", |e| matches!(e, Error::Protocol { .. })),
        (
            "huge-frame",
            |e| matches!(e, Error::Protocol { detail } if detail.contains("exceeds the limit")),
        ),
        (
            "bad-hello",
            |e| matches!(e, Error::Protocol { detail } if detail.contains("bad hello")),
        ),
        (
            "wrong-result",
            |e| matches!(e, Error::Protocol { detail } if detail.contains("expected string, got 12345")),
        ),
        (
            "wrong-call",
            |e| matches!(e, Error::Protocol { detail } if detail.contains("during call")),
        ),
        (
            "flood",
            |e| matches!(e, Error::Protocol { detail } if detail.contains("more output than its limit")),
        ),
        ("exit", |e| {
            matches!(
                e,
                Error::JailEnded {
                    cause: JailEnd::Exited(3),
                    ..
                }
            )
        }),
    ];
    for (mode, expected) in cases {
        let image = support::impostor_image(mode).await;
        let jail = Hoosegow::builder()
            .image_name(image.clone())
            .ephemeral(0)
            .build()
            .await
            .unwrap();
        let options = jail.options().clone().stdout(support::captured());
        let call = jail.call_with("reverse", vec![json!("foobar")], &options);
        let err = tokio::time::timeout(Duration::from_secs(60), call)
            .await
            .unwrap_or_else(|_| panic!("{mode}: the call hung"))
            .expect_err(mode);
        assert!(expected(&err), "{mode}: {err:?}");
        jail.cleanup().await.unwrap();
        assert_eq!(
            support::containers_of(&image).await,
            0,
            "{mode}: container removed"
        );
    }
    support::record_attack(
        "host",
        "runner that sends garbage, a 4 GiB frame header, a malformed hello, a result of the wrong type, a frame for another call, 2 MiB of stdout against a 1 MiB limit, or exits",
        "Protocol / JailEnded errors; frames bounded before allocation; values type-checked; container removed",
    );
}

#[tokio::test]
async fn a_container_killed_mid_call_is_a_typed_error() {
    let (jail, image) = support::docker_jail("hostile", "killed_mid_call").await;
    let limits = hoosegow::Limits {
        timeout_ms: 60_000,
        ..Default::default()
    };
    let options = jail.options().clone().limits(limits);
    let call = tokio::spawn({
        let jail = jail.clone();
        async move { jail.call_with("spin", vec![], &options).await }
    });
    let docker = support::docker().await;
    let id = loop {
        if let Some(id) = support::running_containers_of(&image).await.pop() {
            break id;
        }
        assert!(
            !call.is_finished(),
            "the call ended before its container could be killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    docker
        .kill_container(&id, None::<bollard::query_parameters::KillContainerOptions>)
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("no hang")
        .unwrap()
        .unwrap_err();
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
    jail.cleanup().await.unwrap();
    assert_eq!(
        support::containers_of(&image).await,
        0,
        "the killed container is removed"
    );
    assert_eq!(
        jail.call("burn", vec![json!(10)]).await.unwrap(),
        json!(45),
        "the next call works"
    );
    jail.cleanup().await.unwrap();
    support::record_attack(
        "container",
        "container killed (docker kill) mid-call",
        "JailEnded(killed); container removed; next call in a fresh one",
    );
}

#[tokio::test]
async fn an_artifact_changed_after_labelling_is_refused_before_it_runs() {
    let base = support::alias("reverse", "tamper-base").await;
    let tampered = b"not the artifact the label promised".to_vec();
    let image = support::derived_image(
        "hoosegow-test/reverse:tampered",
        &format!("FROM {base}\nCOPY inmate.cwasm /inmate.cwasm\n"),
        &[("inmate.cwasm", &tampered, 0o444)],
    )
    .await;
    let jail = Hoosegow::builder()
        .image_name(image.clone())
        .ephemeral(0)
        .build()
        .await
        .unwrap();
    let err = jail.call("reverse", vec![json!("x")]).await.unwrap_err();
    match &err {
        Error::RunnerRefused { message, .. } => {
            assert!(
                message.contains("sha256") && message.contains("rebuild"),
                "{message}"
            )
        }
        other => panic!("expected RunnerRefused, got {other:?}"),
    }
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0);
    support::record_attack(
        "runner",
        "inmate artifact replaced after the image was labelled",
        "RunnerRefused before anything is deserialized or run",
    );
}

#[tokio::test]
async fn a_container_killed_for_memory_mid_call_says_so() {
    // The wasm cap is set above the container's memory limit, so the kernel's OOM killer,
    // not wasmtime, ends the call: the container wall holding on its own.
    let image = support::alias("hostile", "oom_mid_call").await;
    let jail = Hoosegow::builder()
        .image_name(image.clone())
        .ephemeral(0)
        .container_limits(hoosegow::ContainerLimits {
            memory_bytes: 64 << 20,
            ..Default::default()
        })
        .limits(hoosegow::Limits {
            memory_bytes: 1 << 30,
            ..Default::default()
        })
        .build()
        .await
        .unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        jail.call("grow-memory", vec![json!(512)]),
    )
    .await
    .expect("no hang")
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::JailEnded {
                cause: JailEnd::OutOfMemory,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("memory"), "{err}");
    assert_eq!(
        jail.call("burn", vec![json!(10)]).await.unwrap(),
        json!(45),
        "the next call works"
    );
    jail.cleanup().await.unwrap();
    assert_eq!(support::containers_of(&image).await, 0);
    support::record_attack(
        "container",
        "inmate allowed more wasm memory (1 GiB) than the container has (64 MiB) touches 512 MiB",
        "OOM-killed by the kernel: JailEnded(out of memory); next call in a fresh container",
    );
}

/// A daemon that answers the requests of `build_image` and then fails the build the way
/// Docker reports a failed step: an `errorDetail` in the middle of the build's stream.
async fn daemon_failing_builds() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(answer_one(socket));
        }
    });
    port
}

/// Reads one request (head and body) and answers it; the connection then closes.
async fn answer_one(mut socket: tokio::net::TcpStream) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
    let line = head.lines().next().unwrap_or_default().to_string();
    // Read the body too (the build context), so that the client sees a whole exchange.
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let chunked = head.contains("transfer-encoding: chunked");
    let mut body = request.len() - head_end;
    while (chunked && !request.ends_with(b"0\r\n\r\n")) || (!chunked && body < length) {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                request.extend_from_slice(&chunk[..n]);
                body += n;
            }
        }
    }
    let (status, body) = if line.contains("/_ping") {
        ("200 OK", "OK".to_string())
    } else if line.contains("/version") {
        (
            "200 OK",
            r#"{"ApiVersion":"1.41","Version":"20.10.24"}"#.to_string(),
        )
    } else if line.contains("/containers/json") {
        ("200 OK", "[]".to_string())
    } else if line.contains("/images/") {
        (
            "404 Not Found",
            r#"{"message":"No such image"}"#.to_string(),
        )
    } else if line.contains("/build") {
        let stream = [
            r#"{"stream":"Step 1/4 : FROM scratch"}"#,
            r#"{"stream":"\n"}"#,
            r#"{"errorDetail":{"message":"failed to register layer: no space left on device"},"error":"failed to register layer: no space left on device"}"#,
        ];
        ("200 OK", stream.join("\r\n"))
    } else {
        ("404 Not Found", r#"{"message":"not here"}"#.to_string())
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(reply.as_bytes()).await;
    let _ = socket.shutdown().await;
}

// Multi-threaded: the fake daemon is a task of this runtime, and the jail's drop must
// reach it while this test's thread is in the drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_image_build_is_a_build_error_with_dockers_detail() {
    let port = daemon_failing_builds().await;
    let jail = Hoosegow::builder()
        .inmate_dir(support::inmate("reverse"))
        .runner_binary(support::runner())
        .endpoint(Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        })
        .build()
        .await
        .unwrap();
    let mut lines = Vec::new();
    let err = tokio::time::timeout(
        Duration::from_secs(120),
        jail.build_image(|line| lines.push(line.to_string())),
    )
    .await
    .expect("no hang")
    .unwrap_err();
    match &err {
        Error::ImageBuild { image, detail } => {
            assert!(image.starts_with("hoosegow:"), "{image}");
            assert_eq!(detail, "failed to register layer: no space left on device");
        }
        other => panic!("expected ImageBuild, got {other:?}"),
    }
    assert!(
        lines.iter().any(|l| l == "Step 1/4 : FROM scratch"),
        "the build's output streamed first: {lines:?}"
    );
}
