//! Bad input gets a clear error, never a panic, and nothing is sent to a container.

use crate::support;
use hoosegow::{Endpoint, Error, Hoosegow};
use serde_json::json;
use std::process::Command;

#[tokio::test]
async fn wrong_argument_type_is_refused_before_any_container_exists() {
    let (jail, image) = support::docker_jail("reverse", "wrong_argument_type").await;
    let since = support::unix_now();
    let err = jail.call("reverse", vec![json!(42)]).await.unwrap_err();
    match &err {
        Error::BadArgument { func, error } => {
            assert_eq!(func, "reverse: func(input: string) -> string");
            assert_eq!(error.path, "args[0]");
        }
        other => panic!("expected BadArgument, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "bad argument to `reverse: func(input: string) -> string`: args[0]: expected string, got 42"
    );
    assert_eq!(
        support::created_since(&image, since).await,
        0,
        "no container was created"
    );
}

#[tokio::test]
async fn wrong_argument_count_names_the_signature() {
    for jail in [
        support::docker_jail("reverse", "wrong_count").await.0,
        support::in_process_jail("reverse").await,
    ] {
        let err = jail
            .call("reverse", vec![json!("a"), json!("b")])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ArgumentCount {
                    expected: 1,
                    got: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = jail.call("reverse", vec![]).await.unwrap_err();
        assert!(
            err.to_string().contains("takes 1 argument(s), got 0"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn unknown_function_lists_the_exports() {
    for jail in [
        support::docker_jail("reverse", "unknown_function").await.0,
        support::in_process_jail("reverse").await,
    ] {
        let err = jail.call("reverse_it", vec![json!("a")]).await.unwrap_err();
        assert!(
            matches!(&err, Error::UnknownFunction { exports, .. } if exports == &["reverse"]),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the inmate has no export `reverse_it`; its exports are: reverse"
        );
    }
}

#[tokio::test]
async fn missing_image_says_how_to_build_it() {
    let jail = Hoosegow::builder()
        .image_name("not_there".to_string())
        .build()
        .await
        .unwrap();
    assert!(!jail.image_exists().await.unwrap());
    let err = jail.call("reverse", vec![json!("x")]).await.unwrap_err();
    assert!(
        matches!(&err, Error::ImageMissing { image } if image == "not_there"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("cargo xtask build-inmate"),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_docker_names_the_endpoint_tried() {
    let endpoints = [
        (
            Endpoint::Socket("/nonexistent/docker.sock".into()),
            "unix:///nonexistent/docker.sock",
        ),
        (
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 1,
            },
            "tcp://127.0.0.1:1",
        ),
    ];
    for (endpoint, shown) in endpoints {
        let err = Hoosegow::builder()
            .image_name("x".to_string())
            .endpoint(endpoint)
            .build()
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::DockerUnreachable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(shown) && text.contains("Start Docker"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn docker_host_names_the_daemon() {
    // Through the CLI: DOCKER_HOST is the process's environment, not a test's to change.
    let image = support::image("reverse");
    let call = |docker_host: &str| {
        let out = cli()
            .env("DOCKER_HOST", docker_host)
            .args(["call", "--image", &image, "reverse", "\"ab\""])
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, out, err) = call("unix:///var/run/docker.sock");
    assert_eq!((code, out.as_str()), (Some(0), "\"ba\""), "{err}");
    let (code, _, err) = call("unix:///nonexistent/docker.sock");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("unix:///nonexistent/docker.sock (from DOCKER_HOST)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_folder_that_is_no_inmate_is_refused() {
    let err = Hoosegow::builder()
        .inmate_dir(support::workspace().join("wit"))
        .in_process()
        .build()
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::InmateBuild { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("cannot tell the inmate's language"),
        "{err}"
    );
    let err = Hoosegow::builder().build().await.err().unwrap();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

/// The CLI binary: `HOOSEGOW_CLI` (set by `cargo xtask test`), else built here the way
/// `cargo build --release` builds it.
pub fn cli() -> Command {
    if let Some(path) = std::env::var_os("HOOSEGOW_CLI") {
        return Command::new(path);
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release"])
        .current_dir(support::workspace())
        .status()
        .unwrap();
    assert!(status.success());
    Command::new(support::workspace().join("target/release/hoosegow"))
}

pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = cli().args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    (
        out.status.code().unwrap(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[tokio::test]
async fn cli_prints_json_and_exits_by_the_contract() {
    let image = support::image("reverse");
    assert_eq!(
        run(&["call", "--image", &image, "reverse", "\"foobar\""]).0,
        0
    );
    assert_eq!(
        run(&["call", "--image", &image, "reverse", "\"foobar\""]).1,
        "\"raboof\""
    );

    let inmate = support::inmate("reverse");
    let (code, out, err) = run(&[
        "call",
        "--in-process",
        "--inmate",
        inmate.to_str().unwrap(),
        "reverse",
        "\"ab\"",
    ]);
    assert_eq!((code, out.as_str()), (0, "\"ba\""));
    assert!(
        err.contains("only the wasm wall is up"),
        "the in-process notice: {err}"
    );

    for (args, says) in [
        (vec!["reverse", "foobar"], "is not JSON"),
        (vec!["reverse", "1"], "expected string, got 1"),
        (vec!["nope"], "its exports are: reverse"),
    ] {
        let (code, _, err) = run(&[&["call", "--image", &image][..], &args].concat());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, err) = run(&["call", "--image", "not_there", "reverse", "\"x\""]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
}

#[tokio::test]
async fn an_inmate_exporting_a_resource_is_refused_when_built() {
    // inmates/resourceful exports a resource type: a handle to state inside the jail.
    let refused = |err: Error, at: &str| match err {
        Error::InmateRefused { detail } => {
            assert!(
                detail.contains("hoosegow:resourceful/counters#counter")
                    && detail.contains("resources are handles to state inside the jail"),
                "{at}: {detail}"
            )
        }
        other => panic!("{at}: expected InmateRefused, got {other:?}"),
    };
    let in_process = Hoosegow::builder()
        .inmate_dir(support::inmate("resourceful"))
        .in_process()
        .build()
        .await;
    refused(in_process.err().expect("refused"), "in-process");
    let jail = Hoosegow::builder()
        .inmate_dir(support::inmate("resourceful"))
        .runner_binary(support::runner())
        .build()
        .await
        .unwrap();
    let err = jail.build_image(|_| {}).await.unwrap_err();
    refused(err, "image build");
}
