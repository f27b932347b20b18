//! Python inmates: an `app.py` whose `WitWorld` class implements the world's exports,
//! built with componentize-py.
//!
//! componentize-py bundles CPython and the app into one component and pre-initialises it
//! (the interpreter is started and `app` imported at build time, and that memory is the
//! component's initial state), so a call does not boot Python.

use super::{Scratch, failed, find_tool, read_output, run, toolchain, world};
use crate::error::Error;
use std::path::Path;
use tokio::process::Command;

pub(super) async fn compile(
    dir: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<u8>, Error> {
    let tool = find_tool(
        "componentize-py",
        &["python/bin"],
        &format!(
            "Python inmates are built with {}: {}",
            toolchain::COMPONENTIZE_PY,
            toolchain::how_to_install()
        ),
    )
    .map_err(|e| failed(dir, e))?;
    let (resolve, world) = world(dir)?;
    let scratch = Scratch::new(dir, "python")?;
    let out = scratch.path().join("inmate.wasm");
    // componentize-py imports the app to snapshot it, and Python then writes
    // __pycache__ beside the sources: build from a copy, so the inmate folder stays as
    // it is.
    let app = scratch.path().join("app");
    copy_tree(dir, &app).map_err(|e| failed(dir, format!("cannot copy the sources: {e}")))?;
    let mut command = Command::new(tool);
    command
        .arg("--wit-path")
        .arg(dir.join("wit"))
        .arg("--world")
        .arg(&resolve.worlds[world].name)
        .arg("componentize")
        .arg("--python-path")
        .arg(&app)
        .arg("app")
        .arg("--output")
        .arg(&out)
        .current_dir(scratch.path());
    run(dir, "componentize-py", command, progress).await?;
    read_output(dir, &out).await
}

/// Copies the Python sources under `from` (not `wit/`, nor what Python left there).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "wit" || name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            std::fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}
