//! Rust inmates: a plain `cdylib` crate using wit-bindgen, built for `wasm32-wasip2`,
//! whose output is already a component.

use super::failed;
use crate::error::Error;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Builds the crate in `dir` with cargo and returns its cdylib.
pub(super) async fn compile(
    dir: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<u8>, Error> {
    let failed = |detail: String| failed(dir, detail);
    let manifest = dir.join("Cargo.toml");
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            failed(format!(
                "cannot run cargo ({e}); install Rust from https://rustup.rs"
            ))
        })?;

    // cargo's JSON messages on stdout name the artifacts; its progress goes to stderr.
    let stdout = child.stdout.take().expect("piped");
    let artifacts = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut wasm = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            wasm.extend(cdylib_wasm(&line));
        }
        wasm
    });
    let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut tail = Vec::new();
    while let Ok(Some(line)) = stderr.next_line().await {
        progress(&line);
        tail.push(line);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| failed(format!("cargo did not finish: {e}")))?;
    let wasm = artifacts.await.unwrap_or_default();
    if !status.success() {
        let said = tail.join("\n");
        let hint = if said.contains("wasm32-wasip2") && said.contains("target may not be installed")
        {
            "\nInstall the target: rustup target add wasm32-wasip2"
        } else if said.contains("believes it's in a workspace when it's not") {
            // An inmate inside the application's own cargo workspace: it is built on its
            // own, for another target, so it should be a workspace of its own.
            "\nMake the inmate a workspace of its own: add an empty `[workspace]` table to its \
             Cargo.toml (or list its folder in the enclosing workspace's `exclude`)"
        } else {
            ""
        };
        return Err(failed(format!("cargo build failed:\n{said}{hint}")));
    }
    let path = match wasm.as_slice() {
        [one] => one,
        [] => {
            return Err(failed(
                "cargo built no cdylib; set `crate-type = [\"cdylib\"]` in [lib]".into(),
            ));
        }
        many => {
            return Err(failed(format!(
                "cargo built several cdylibs ({many:?}); an inmate is one crate"
            )));
        }
    };
    tokio::fs::read(path)
        .await
        .map_err(|e| failed(format!("cannot read {}: {e}", path.display())))
}

/// The `.wasm` file of a cdylib from one line of cargo's JSON output, if it names one.
fn cdylib_wasm(line: &str) -> Option<PathBuf> {
    let message: Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let kinds = message["target"]["kind"].as_array()?;
    if !kinds.iter().any(|k| k == "cdylib") {
        return None;
    }
    message["filenames"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cdylib_in_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"kind":["cdylib"]},"filenames":["/t/x.wasm"]}"#;
        assert_eq!(cdylib_wasm(line), Some(PathBuf::from("/t/x.wasm")));
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"filenames":["/t/libx.rlib"]}"#;
        assert_eq!(cdylib_wasm(lib), None);
        assert_eq!(cdylib_wasm("not json"), None);
    }
}
