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
