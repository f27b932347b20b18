//! C inmates: C sources implementing the functions that wit-bindgen's C generator declares
//! for the world (`<world>.h`), compiled with clang and wasi-libc to a reactor module and
//! made a component with the WASI preview1 reactor adapter.
//!
//! The bindings are generated into a scratch folder on every build, so the inmate folder
//! holds only its own sources; `#include "<world>.h"` finds them there.

use super::{Scratch, failed, files_in, read_output, run, toolchain, world};
use crate::error::Error;
use std::path::{Path, PathBuf};
use tokio::process::Command;
use wit_bindgen_core::Files;
use wit_component::ComponentEncoder;

/// Where Debian's `wasi-libc` puts the wasm32-wasi headers and libraries (`--sysroot`).
const DEBIAN_SYSROOT: &str = "/usr";

pub(super) async fn compile(
    dir: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<u8>, Error> {
    let install = || {
        format!(
            "C inmates need clang, wasm-ld, wasi-libc and compiler-rt for wasm32: `apt-get \
             install {}` (Debian 12)",
            toolchain::C_APT.join(" ")
        )
    };
    let clang = ["clang-14", "clang"]
        .into_iter()
        .find_map(super::on_path)
        .ok_or_else(|| failed(dir, format!("clang was not found on PATH. {}", install())))?;
    let sysroot =
        PathBuf::from(std::env::var_os("WASI_SYSROOT").unwrap_or_else(|| DEBIAN_SYSROOT.into()));
    let libc = ["lib/wasm32-wasi/libc.a", "lib/wasm32-wasip1/libc.a"]
        .iter()
        .any(|l| sysroot.join(l).is_file());
    if !libc {
        return Err(failed(
            dir,
            format!(
                "wasi-libc was not found in {} (set WASI_SYSROOT to a wasi-libc sysroot). {}",
                sysroot.display(),
                install()
            ),
        ));
    }

    let sources: Vec<PathBuf> = files_in(dir)?
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "c"))
        .collect();
    let scratch = Scratch::new(dir, "c")?;
    let (mut resolve, world) = world(dir)?;
    let mut files = Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .map_err(|e| failed(dir, format!("wit-bindgen's C generator failed: {e:#}")))?;
    let mut generated = Vec::new();
    for (name, contents) in files.iter() {
        let path = scratch.path().join(name);
        std::fs::write(&path, contents)
            .map_err(|e| failed(dir, format!("cannot write {}: {e}", path.display())))?;
        if name.ends_with(".c") || name.ends_with(".o") {
            generated.push(path);
        }
    }

    let core = scratch.path().join("core.wasm");
    let mut command = Command::new(clang);
    command
        .arg("--target=wasm32-wasi")
        .arg(format!("--sysroot={}", sysroot.display()))
        .args(["-mexec-model=reactor", "-O2", "-Wall", "-Wextra"])
        .arg("-I")
        .arg(scratch.path())
        .arg("-I")
        .arg(dir)
        .args(&sources)
        .args(&generated)
        .arg("-o")
        .arg(&core)
        .current_dir(scratch.path());
    run(dir, "clang", command, progress).await.map_err(|e| {
        let Error::InmateBuild { detail, .. } = &e else {
            return e;
        };
        let hint = if detail.contains("libclang_rt.builtins-wasm32") {
            "\nInstall compiler-rt for wasm32: `apt-get install libclang-rt-14-dev-wasm32`".into()
        } else if detail.contains("wasm-ld")
            && (detail.contains("No such file") || detail.contains("unable to execute"))
        {
            "\nInstall the wasm linker: `apt-get install lld-14`".into()
        } else if detail.contains("file not found") && detail.contains(".h") {
            format!("\n{}", install())
        } else {
            String::new()
        };
        failed(dir, format!("{detail}{hint}"))
    })?;
    let core = read_output(dir, &core).await?;
    componentize(&core).map_err(|e| failed(dir, format!("wasm-tools component new: {e:#}")))
}

/// A reactor core module with wit-bindgen's metadata to a component, its WASI preview1
/// imports adapted to WASI 0.2 (what `wasm-tools component new --adapt` does).
pub(super) fn componentize(core: &[u8]) -> anyhow::Result<Vec<u8>> {
    ComponentEncoder::default()
        .validate(true)
        .module(core)?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .encode()
}
