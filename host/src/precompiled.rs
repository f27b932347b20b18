//! Precompiled inmates, cached on disk. Compiling a component to machine code takes
//! cranelift from milliseconds (a small Rust inmate) to tens of seconds (an interpreter
//! such as Python's); the result depends only on the component's bytes and the engine's
//! configuration, so it is kept under their hashes and compiled once.
//!
//! The cache is `HOOSEGOW_CACHE` if set, else `$XDG_CACHE_HOME/hoosegow`, else
//! `~/.cache/hoosegow`; with none of them, nothing is cached. Loading an artifact trusts
//! it to be wasmtime's own output, so the cache is only as trustworthy as the directory:
//! keep it writable by the application's user alone (the same user could run any code
//! anyway).

use crate::error::Error;
use jail_runner::jail::sha256_hex;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use wasmtime::Engine;

/// The precompiled form of the component `wasm` for `engine`: from the cache, or compiled
/// (and then cached).
pub fn precompile(engine: &Engine, wasm: &[u8]) -> Result<Vec<u8>, Error> {
    let path = cache_dir().map(|dir| dir.join(file_name(engine, wasm)));
    if let Some(cached) = path.as_ref().and_then(|p| std::fs::read(p).ok()) {
        return Ok(cached);
    }
    let cwasm = engine
        .precompile_component(wasm)
        .map_err(|e| Error::InmateRefused {
            detail: format!("cannot compile the inmate component: {e:#}"),
        })?;
    if let Some(path) = path {
        // Best effort: a cache that cannot be written only costs the next compile.
        let _ = store(&path, &cwasm);
    }
    Ok(cwasm)
}

/// `<sha256 of the component>-<hash of the engine's configuration>.cwasm`.
fn file_name(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    format!("{}-{:016x}.cwasm", sha256_hex(wasm), hasher.finish())
}

/// Writes through a temporary file, so a reader never sees half an artifact.
fn store(path: &std::path::Path, cwasm: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("a cache file has a directory");
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{}.{}", std::process::id(), rand_suffix()));
    std::fs::write(&temporary, cwasm)?;
    std::fs::rename(&temporary, path)
}

fn rand_suffix() -> u64 {
    let mut hasher = DefaultHasher::new();
    std::time::SystemTime::now().hash(&mut hasher);
    std::thread::current().id().hash(&mut hasher);
    hasher.finish()
}

fn cache_dir() -> Option<PathBuf> {
    let env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("HOOSEGOW_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("hoosegow")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/hoosegow")))
}
