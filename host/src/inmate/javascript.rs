//! JavaScript inmates: an ES module exporting the world's functions (camelCase), built
//! with componentize-js.
//!
//! componentize-js embeds the SpiderMonkey engine and pre-initialises it with wizer: the
//! module is parsed and evaluated at build time, so a call starts from that snapshot.
//! The world's root imports are default exports of modules of their names
//! (`import yieldToBlock from "yield"`).

use super::{Scratch, failed, files_in, find_tool, read_output, run, toolchain, world};
use crate::error::Error;
use std::path::Path;
use tokio::process::Command;

pub(super) async fn compile(
    dir: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<u8>, Error> {
    let tool = find_tool(
        "componentize-js",
        &["node/node_modules/.bin"],
        &format!(
            "JavaScript inmates are built with {} (and Node.js): {}",
            toolchain::COMPONENTIZE_JS,
            toolchain::how_to_install()
        ),
    )
    .map_err(|e| failed(dir, e))?;
    let entry = entry_point(dir)?;
    let (resolve, world) = world(dir)?;
    let scratch = Scratch::new(dir, "javascript")?;
    let out = scratch.path().join("inmate.wasm");
    let mut command = Command::new(tool);
    command
        .arg(&entry)
        .arg("--wit")
        .arg(dir.join("wit"))
        .arg("--world-name")
        .arg(&resolve.worlds[world].name)
        // A jail offers no HTTP: build without StarlingMonkey's HTTP client and server,
        // which would otherwise import wasi:http.
        .args(["--disable", "http", "--disable", "fetch-event"])
        .arg("--out")
        .arg(&out)
        .current_dir(scratch.path());
    run(dir, "componentize-js", command, progress).await?;
    read_output(dir, &out).await
}

/// `index.js`, or the folder's only module.
fn entry_point(dir: &Path) -> Result<std::path::PathBuf, Error> {
    let index = dir.join("index.js");
    if index.is_file() {
        return Ok(index);
    }
    let modules: Vec<_> = files_in(dir)?
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "js" || e == "mjs"))
        .collect();
    match <[_; 1]>::try_from(modules) {
        Ok([one]) => Ok(one),
        Err(_) => Err(failed(
            dir,
            "a JavaScript inmate has an index.js, or exactly one .js/.mjs module",
        )),
    }
}
