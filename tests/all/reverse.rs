//! The gem's README example end to end, through Docker and in-process.

use crate::support;
use hoosegow::{Hoosegow, Value};
use serde_json::json;

async fn reverse(jail: &Hoosegow, input: &str) -> Value {
    jail.call("reverse", vec![json!(input)])
        .await
        .expect("reverse")
}

/// Inputs: the README's, empty, multi-byte UTF-8, and 1 MiB.
fn cases() -> Vec<(String, String)> {
    let big: String = (0..(1 << 20))
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let mut cases = vec![
        ("foobar".to_string(), "raboof".to_string()),
        (String::new(), String::new()),
        ("naïve 🦀 日本語".to_string(), "語本日 🦀 evïan".to_string()),
    ];
    cases.push((big.clone(), big.chars().rev().collect()));
    cases
}

#[tokio::test]
async fn reverse_through_docker() {
    let (jail, image) = support::docker_jail("reverse", "reverse_through_docker").await;
    assert_eq!(jail.walls(), 2);
    for (input, expected) in cases() {
        assert_eq!(
            reverse(&jail, &input).await,
            json!(expected),
            "input of {} bytes",
            input.len()
        );
    }
    jail.cleanup().await.unwrap();
    assert_eq!(
        support::containers_of(&image).await,
        0,
        "every call's container is removed"
    );
}

#[tokio::test]
async fn reverse_in_process() {
    let jail = support::in_process_jail("reverse").await;
    assert!(jail.is_in_process());
    assert_eq!(jail.walls(), 1);
    for (input, expected) in cases() {
        assert_eq!(
            reverse(&jail, &input).await,
            json!(expected),
            "input of {} bytes",
            input.len()
        );
    }
}

#[tokio::test]
async fn image_is_named_after_its_contents_and_exists() {
    let image = support::image("reverse");
    let hex = image.strip_prefix("hoosegow:").expect("hoosegow:<sha256>");
    assert_eq!(hex.len(), 64);
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    let jail = Hoosegow::builder()
        .inmate_dir(support::inmate("reverse"))
        .runner_binary(support::runner())
        .ephemeral(0)
        .build()
        .await
        .unwrap();
    assert_eq!(
        jail.image_name().await.unwrap(),
        image,
        "the name is reproducible"
    );
    assert!(jail.image_exists().await.unwrap());
    let mut lines = Vec::new();
    jail.build_image(|line| lines.push(line.to_string()))
        .await
        .unwrap();
    assert!(
        lines.iter().any(|l| l.contains("nothing to build")),
        "a rebuild is a no-op: {lines:?}"
    );
}

/// Copies the files of inmate `name` (its sources and WIT, not what builds leave) to `to`.
fn copy_inmate(name: &str, to: &std::path::Path) {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    copy(&support::inmate(name), to);
}

#[tokio::test]
async fn an_inmate_folder_lives_anywhere_even_inside_the_applications_workspace() {
    // The gem's layout: an application with its inmate in `hoosegow_deps/`, nothing of
    // this repository around it. The application is itself a cargo workspace.
    let app = std::env::temp_dir().join(format!("hoosegow-app-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&app);
    let inmate = app.join("hoosegow_deps");
    copy_inmate("reverse", &inmate);
    std::fs::write(app.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let build = || Hoosegow::builder().inmate_dir(&inmate).in_process().build();
    let err = build().await.err().expect("a nested crate cargo refuses");
    assert!(
        matches!(err, hoosegow::Error::InmateBuild { .. })
            && err.to_string().contains("[workspace]"),
        "the error says how to fix it: {err}"
    );
    // The fix the message gives: the inmate is a workspace of its own.
    let manifest = inmate.join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("\n[workspace]\n");
    std::fs::write(&manifest, text).unwrap();
    let jail = build().await.unwrap();
    assert_eq!(reverse(&jail, "foobar").await, json!("raboof"));
    std::fs::remove_dir_all(&app).unwrap();
}

#[tokio::test]
async fn build_inmate_prints_the_image_name_last_and_reuses_it() {
    let xtask = std::env::var_os("HOOSEGOW_XTASK").unwrap_or_else(|| {
        panic!("HOOSEGOW_XTASK names the xtask binary; run the suite with `cargo xtask test`")
    });
    let expected = support::image("reverse");
    let run = || {
        let out = std::process::Command::new(&xtask)
            .args(["build-inmate", "inmates/reverse"])
            .current_dir(support::workspace())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (stdout, stderr)
    };
    let (stdout, stderr) = run();
    assert_eq!(stdout.lines().last(), Some(expected.as_str()), "{stderr}");
    for step in ["==> compile", "==> precompile", "==> image hoosegow:"] {
        assert!(
            stderr.contains(step),
            "piped, each step is a plain line: {stderr}"
        );
    }
    // The image exists now: the second run builds nothing.
    let (stdout, stderr) = run();
    assert_eq!(stdout.trim(), expected, "{stderr}");
    assert!(stderr.contains("reusing it, nothing built"), "{stderr}");
}
