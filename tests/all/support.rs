//! Shared fixtures: the runner, inmate images built once per test run, and per-test image
//! aliases so that parallel tests can each count their own containers.

use bollard::Docker;
use bollard::query_parameters::{EventsOptions, ListContainersOptionsBuilder, TagImageOptions};
use futures_util::StreamExt;
use hoosegow::{Endpoint, Hoosegow};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// An inmate folder of this repository.
pub fn inmate(name: &str) -> PathBuf {
    workspace().join("inmates").join(name)
}

/// The static runner: `HOOSEGOW_RUNNER` (set by `cargo xtask test`), else built here.
pub fn runner() -> PathBuf {
    static RUNNER: OnceLock<PathBuf> = OnceLock::new();
    RUNNER
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("HOOSEGOW_RUNNER") {
                return PathBuf::from(path);
            }
            test_binary("jail-runner", "jail-runner")
        })
        .clone()
}

/// The image of inmate `name`, built through the library once per test run.
pub fn image(name: &str) -> String {
    static IMAGES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let images = IMAGES.get_or_init(Default::default);
    let mut images = images.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(image) = images.get(name) {
        return image.clone();
    }
    // Each test has its own runtime; build on a runtime of our own so that no test's
    // Docker client outlives the runtime it was made on.
    let dir = inmate(name);
    let built = std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let jail = Hoosegow::builder()
                    .inmate_dir(dir)
                    .runner_binary(runner())
                    .build()
                    .await
                    .expect("a Docker daemon (`cargo xtask test` starts one)");
                jail.build_image(|line| eprintln!("    {line}"))
                    .await
                    .expect("image builds")
            })
    })
    .join()
    .expect("image build thread");
    images.insert(name.to_string(), built.clone());
    built
}

pub async fn docker() -> Docker {
    Endpoint::Default.connect().await.expect("a Docker daemon")
}

/// Tags inmate `name`'s image as `hoosegow-test/<name>:<test>`, so that the containers of
/// one test can be told apart from those of tests running beside it.
pub async fn alias(name: &str, test: &str) -> String {
    let image = image(name);
    let docker = docker().await;
    let repo = format!("hoosegow-test/{name}");
    let options = TagImageOptions {
        repo: Some(repo.clone()),
        tag: Some(test.to_string()),
    };
    docker
        .tag_image(&image, Some(options))
        .await
        .expect("tag image");
    format!("{repo}:{test}")
}

/// A Docker jail on inmate `name`'s image under the alias of `test`.
/// No prestart: each test counts its own containers, and a prestarted one would be
/// counted too (tests/all/lifecycle.rs covers prestart).
pub async fn docker_jail(name: &str, test: &str) -> (Hoosegow, String) {
    let image = alias(name, test).await;
    let jail = Hoosegow::builder()
        .image_name(image.clone())
        .ephemeral(0)
        .build()
        .await
        .expect("jail");
    (jail, image)
}

/// An in-process jail on inmate `name`.
pub async fn in_process_jail(name: &str) -> Hoosegow {
    Hoosegow::builder()
        .inmate_dir(inmate(name))
        .in_process()
        .build()
        .await
        .expect("in-process jail")
}

/// Jail containers of `image` that exist now.
pub async fn containers_of(image: &str) -> usize {
    let filters = HashMap::from([("label".to_string(), vec![format!("hoosegow.image={image}")])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    docker()
        .await
        .list_containers(Some(options))
        .await
        .expect("list containers")
        .len()
}

/// Containers of `image` created since `since` (unix seconds).
pub async fn created_since(image: &str, since: i64) -> usize {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("event".to_string(), vec!["create".to_string()]),
        ("label".to_string(), vec![format!("hoosegow.image={image}")]),
    ]);
    let options = EventsOptions {
        since: Some(since.to_string()),
        until: Some((now + 1).to_string()),
        filters: Some(filters),
    };
    docker()
        .await
        .events(Some(options))
        .filter(|e| std::future::ready(e.is_ok()))
        .count()
        .await
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Both backends for inmate `name`: Docker (under the alias of `test`) and in-process.
pub async fn jails(name: &str, test: &str) -> Vec<Hoosegow> {
    vec![docker_jail(name, test).await.0, in_process_jail(name).await]
}

/// "docker" or "in-process", for assertion messages.
pub fn backend(jail: &Hoosegow) -> &'static str {
    if jail.is_in_process() {
        "in-process"
    } else {
        "docker"
    }
}

/// A writer the test can read back.
pub type Captured = std::sync::Arc<Mutex<Vec<u8>>>;

pub fn captured() -> Captured {
    Default::default()
}

pub fn text(captured: &Captured) -> String {
    String::from_utf8_lossy(&captured.lock().unwrap()).into_owned()
}

/// Records one attack tried against a wall, for SECURITY.md's table: a JSON line in
/// `target/security/attacks.jsonl`, which `cargo xtask security-table` renders. Call it
/// after the assertions that prove the outcome, so only proven outcomes are recorded.
pub fn record_attack(wall: &str, attack: &str, outcome: &str) {
    use std::io::Write;
    let dir = workspace().join("target/security");
    std::fs::create_dir_all(&dir).expect("create target/security");
    let line = serde_json::json!({ "wall": wall, "attack": attack, "outcome": outcome });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("attacks.jsonl"))
        .expect("open attacks.jsonl");
    writeln!(file, "{line}").expect("write attacks.jsonl");
}

/// A test-only static binary of this workspace (`package`'s `bin`), built for musl.
pub fn test_binary(package: &str, bin: &str) -> PathBuf {
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "-p",
                package,
                "--target",
                "x86_64-unknown-linux-musl",
            ])
            .current_dir(workspace())
            .status()
            .expect("run cargo");
    assert!(
        status.success(),
        "building {package} failed; `cargo xtask test` sets everything up"
    );
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from)
        .join("x86_64-unknown-linux-musl/release")
        .join(bin)
}

/// Builds `tag` from `dockerfile` with `files` (name, bytes, mode) as its context.
pub async fn derived_image(tag: &str, dockerfile: &str, files: &[(&str, &[u8], u32)]) -> String {
    let mut context = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8], mode: u32| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        context.append_data(&mut header, name, bytes).unwrap();
    };
    add("Dockerfile", dockerfile.as_bytes(), 0o644);
    for (name, bytes, mode) in files {
        add(name, bytes, *mode);
    }
    let context = context.into_inner().unwrap();
    let options = bollard::query_parameters::BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .build();
    let docker = docker().await;
    let mut build = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(info) = build.next().await {
        let info = info.expect("build");
        if let Some(detail) = info.error_detail {
            panic!("building {tag}: {detail:?}");
        }
    }
    tag.to_string()
}

/// Ids of the running jail containers of `image`.
pub async fn running_containers_of(image: &str) -> Vec<String> {
    let filters = HashMap::from([
        ("label".to_string(), vec![format!("hoosegow.image={image}")]),
        ("status".to_string(), vec!["running".to_string()]),
    ]);
    let options = ListContainersOptionsBuilder::new()
        .filters(&filters)
        .build();
    let listed = docker()
        .await
        .list_containers(Some(options))
        .await
        .expect("list containers");
    listed.into_iter().filter_map(|c| c.id).collect()
}

/// An image that is the real `reverse` jail except that an impostor speaks for the runner.
pub async fn impostor_image(mode: &str) -> String {
    let base = alias("reverse", &format!("impostor-base-{mode}")).await;
    let info = hoosegow::docker::image::inspect(&docker().await, &base)
        .await
        .unwrap()
        .unwrap();
    let world = serde_json::to_vec(&info.world).unwrap();
    let impostor = std::fs::read(test_binary("hoosegow-impostor", "impostor")).unwrap();
    let dockerfile = format!(
        "FROM {base}\nCOPY impostor /impostor\nCOPY world.json /world.json\nENTRYPOINT [\"/impostor\", \"{mode}\"]\n"
    );
    derived_image(
        &format!("hoosegow-test/impostor:{mode}"),
        &dockerfile,
        &[
            ("impostor", &impostor, 0o755),
            ("world.json", &world, 0o444),
        ],
    )
    .await
}
