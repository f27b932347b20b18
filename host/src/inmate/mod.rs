//! Inmate folders: recognising the language and compiling the source to a component.
//!
//! An inmate folder is self-describing: its WIT world in `<dir>/wit/` and the language's
//! own files beside it. The language is recognised from those files (first match wins):
//!
//! | in the folder | language | toolchain |
//! |---|---|---|
//! | `Cargo.toml` | Rust | cargo, target `wasm32-wasip2` |
//! | `app.py` | Python | componentize-py (PyPI) |
//! | `index.js`, or a single `*.js`/`*.mjs` | JavaScript | componentize-js (npm) |
//! | `*.c` | C | clang with wasi-libc (Debian), wit-bindgen's C generator, the preview1 reactor adapter |
//! | `*.rb` | Ruby (untrusted scripts) | ruby.wasm (npm) pre-initialised with wizer (npm) |
//! | one `*.wat` | WebAssembly text: a core module written against the world's canonical ABI | none (parsed and componentized by this library) |
//!
//! Toolchains that do not come with the operating system are looked up in the folder named
//! by `HOOSEGOW_TOOLCHAINS` (laid out as `cargo xtask toolchains` installs it: see
//! [`toolchain`]) and then on `PATH`. A missing one is an [`Error::InmateBuild`] that says
//! what to install.

mod c;
mod javascript;
mod python;
mod ruby;
mod rust;
mod wat;

use crate::error::Error;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use wit_parser::{Resolve, WorldId};

/// The toolchains Hoosegow drives, their pinned versions, and where they are looked up.
///
/// `cargo xtask toolchains` (and `cargo xtask test`) installs exactly these versions into
/// `target/toolchains/`; the library finds them through `HOOSEGOW_TOOLCHAINS`.
pub mod toolchain {
    /// Environment variable naming the folder toolchains were installed into.
    pub const ENV: &str = "HOOSEGOW_TOOLCHAINS";
    /// componentize-py, from PyPI, in a virtualenv at `<toolchains>/python`.
    pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
    /// componentize-js, from npm, in `<toolchains>/node/node_modules`.
    pub const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js@0.23.0";
    /// wizer, from npm (its Linux binary package), in `<toolchains>/node/node_modules`.
    pub const WIZER: &str = "@bytecodealliance/wizer@10.0.0";
    /// ruby.wasm: CRuby 3.4 with its standard library, from npm.
    pub const RUBY_WASM: &str = "@ruby/3.4-wasm-wasi@2.10.1";
    /// Debian packages for C inmates: the compiler, the linker, libc and compiler-rt for wasm32.
    pub const C_APT: &[&str] = &[
        "clang-14",
        "lld-14",
        "wasi-libc",
        "libclang-rt-14-dev-wasm32",
    ];
    /// WASI shims componentize-js loads at build time without declaring them.
    pub const PREVIEW2_SHIM: &str = "@bytecodealliance/preview2-shim@0.17.9";
    /// The npm packages, in one list for one `npm install`.
    pub const NPM: &[&str] = &[COMPONENTIZE_JS, PREVIEW2_SHIM, WIZER, RUBY_WASM];

    /// The toolchains folder, if `HOOSEGOW_TOOLCHAINS` names one.
    pub fn dir() -> Option<std::path::PathBuf> {
        std::env::var_os(ENV)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    }

    /// How to get every toolchain, said once for every "not found" message.
    pub fn how_to_install() -> String {
        format!(
            "`cargo xtask toolchains` installs every toolchain into target/toolchains (then set \
             {ENV}=<repo>/target/toolchains); by hand: `python3 -m venv $T/python && \
             $T/python/bin/pip install {COMPONENTIZE_PY}`, `npm install --prefix $T/node {}` \
             with {ENV}=$T, and `apt-get install {}`",
            NPM.join(" "),
            C_APT.join(" ")
        )
    }
}

/// The language an inmate is written in, recognised from its folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Language {
    /// A `Cargo.toml`: a Rust `cdylib` using wit-bindgen.
    Rust,
    /// An `app.py` defining `class WitWorld(wit_world.WitWorld)`, built with componentize-py.
    Python,
    /// An ES module (`index.js`) exporting the world's functions, built with componentize-js.
    JavaScript,
    /// C sources implementing the functions `wit-bindgen c` declares for the world.
    C,
    /// A Ruby program run by ruby.wasm: the host for untrusted Ruby scripts.
    Ruby,
    /// One core module in WebAssembly text (`*.wat`), for what no compiler emits on
    /// request (growing tables without end, say).
    Wat,
}

impl Language {
    /// Recognises the language of the inmate in `dir`.
    pub fn of(dir: &Path) -> Result<Language, Error> {
        if !dir.is_dir() {
            return Err(failed(dir, "no such folder"));
        }
        if dir.join("Cargo.toml").is_file() {
            return Ok(Language::Rust);
        }
        if dir.join("app.py").is_file() {
            return Ok(Language::Python);
        }
        let files = files_in(dir)?;
        let with = |ext: &[&str]| {
            files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| ext.iter().any(|x| e == *x)))
                .count()
        };
        if dir.join("index.js").is_file() || with(&["js", "mjs"]) == 1 {
            return Ok(Language::JavaScript);
        }
        if with(&["c"]) > 0 {
            return Ok(Language::C);
        }
        if with(&["rb"]) > 0 {
            return Ok(Language::Ruby);
        }
        if with(&["wat"]) == 1 {
            return Ok(Language::Wat);
        }
        Err(failed(
            dir,
            "cannot tell the inmate's language: expected, next to its wit/ folder, a Cargo.toml \
             (Rust), an app.py (Python), an index.js (JavaScript), C sources (*.c), a Ruby \
             program (*.rb) or one WebAssembly text module (*.wat)",
        ))
    }

    /// The language's name, as a person would write it.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
            Language::C => "C",
            Language::Ruby => "Ruby",
            Language::Wat => "WebAssembly text",
        }
    }
}

/// Compiles the inmate in `dir` to a WebAssembly component, passing the toolchain's
/// output to `progress` line by line; returns the component's bytes.
pub async fn compile(
    dir: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<u8>, Error> {
    // Toolchains run in scratch folders: give them absolute paths.
    let dir = &std::path::absolute(dir)
        .map_err(|e| failed(dir, format!("cannot make the path absolute: {e}")))?;
    let language = Language::of(dir)?;
    if language == Language::Rust {
        // cargo keeps its own cache of what it built.
        return rust::compile(dir, progress).await;
    }
    let key = cache::key(dir, language)?;
    cache::get_or_build(dir, &key, language, progress).await
}

/// Runs the toolchain of `language` on the inmate in `dir`.
async fn build(
    dir: &Path,
    language: Language,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<u8>, Error> {
    match language {
        Language::Rust => rust::compile(dir, progress).await,
        Language::Python => python::compile(dir, progress).await,
        Language::JavaScript => javascript::compile(dir, progress).await,
        Language::C => c::compile(dir, progress).await,
        Language::Ruby => ruby::compile(dir, progress).await,
        Language::Wat => wat::compile(dir),
    }
}

/// Components built from the same sources with the same toolchain pins are reused: in
/// this process, and across processes under `<toolchains>/cache/` when
/// `HOOSEGOW_TOOLCHAINS` is set. Python, JavaScript and Ruby builds take tens of
/// seconds; the same folder is often built for an image and for an in-process jail.
mod cache {
    use super::{Language, failed, toolchain};
    use crate::error::Error;
    use sha2::{Digest, Sha256};
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};
    use tokio::sync::OnceCell;

    type Slot = Arc<OnceCell<Arc<Vec<u8>>>>;

    /// The source of this module and of each language's builder.
    const BUILDERS: [&[u8]; 6] = [
        include_bytes!("mod.rs"),
        include_bytes!("python.rs"),
        include_bytes!("javascript.rs"),
        include_bytes!("c.rs"),
        include_bytes!("ruby.rs"),
        include_bytes!("wat.rs"),
    ];

    /// sha256 of the language, the pinned toolchains and every file under `dir` (path and
    /// contents, in a fixed order).
    pub(super) fn key(dir: &Path, language: Language) -> Result<String, Error> {
        let mut hash = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        part(language.name().as_bytes());
        for pin in [toolchain::COMPONENTIZE_PY].iter().chain(toolchain::NPM) {
            part(pin.as_bytes());
        }
        // The builders themselves: a change to how a language is built (the Ruby glue,
        // say) is a change to what comes out.
        for source in BUILDERS {
            part(source);
        }
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        files.sort();
        for relative in files {
            let contents = std::fs::read(dir.join(&relative))
                .map_err(|e| failed(dir, format!("cannot read {relative}: {e}")))?;
            part(relative.as_bytes());
            part(&contents);
        }
        Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Relative paths of the files under `at`, skipping what tools leave behind.
    fn walk(root: &Path, at: &Path, files: &mut Vec<String>) -> Result<(), Error> {
        let entries = std::fs::read_dir(at)
            .map_err(|e| failed(root, format!("cannot list {}: {e}", at.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "__pycache__" || name == "node_modules" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, files)?;
            } else if let Ok(relative) = path.strip_prefix(root) {
                files.push(relative.to_string_lossy().into_owned());
            }
        }
        Ok(())
    }

    pub(super) async fn get_or_build(
        dir: &Path,
        key: &str,
        language: Language,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Vec<u8>, Error> {
        static SLOTS: Mutex<Option<HashMap<String, Slot>>> = Mutex::new(None);
        let slot: Slot = SLOTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(HashMap::new)
            .entry(key.to_string())
            .or_default()
            .clone();
        let on_disk = toolchain::dir().map(|d| d.join("cache").join(format!("{key}.wasm")));
        // Concurrent builds of the same sources wait for the first one.
        let wasm = slot
            .get_or_try_init(|| fill(dir, on_disk, language, progress))
            .await?;
        Ok(wasm.as_ref().clone())
    }

    async fn fill(
        dir: &Path,
        on_disk: Option<PathBuf>,
        language: Language,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Arc<Vec<u8>>, Error> {
        if let Some(path) = &on_disk
            && let Ok(wasm) = tokio::fs::read(path).await
        {
            progress(&format!(
                "reusing the component built from the same sources: {}",
                path.display()
            ));
            return Ok(Arc::new(wasm));
        }
        let wasm = super::build(dir, language, progress).await?;
        if let Some(path) = &on_disk {
            store(path, &wasm).await.map_err(|e| {
                failed(
                    dir,
                    format!("cannot cache the component at {}: {e}", path.display()),
                )
            })?;
        }
        Ok(Arc::new(wasm))
    }

    /// Writes `wasm` to `path` whole or not at all (a temporary file, then a rename).
    async fn store(path: &Path, wasm: &[u8]) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let partial = path.with_extension(format!("{}.partial", std::process::id()));
        tokio::fs::write(&partial, wasm).await?;
        tokio::fs::rename(&partial, path).await
    }
}

/// An [`Error::InmateBuild`] for the inmate in `dir`.
fn failed(dir: &Path, detail: impl Into<String>) -> Error {
    Error::InmateBuild {
        dir: dir.to_path_buf(),
        detail: detail.into(),
    }
}

/// The regular files directly in `dir`, sorted so builds do not depend on listing order.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| failed(dir, format!("cannot list the folder: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The inmate's WIT (`<dir>/wit`) and its one world.
fn world(dir: &Path) -> Result<(Resolve, WorldId), Error> {
    let wit = dir.join("wit");
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(&wit).map_err(|e| {
        failed(
            dir,
            format!("cannot read the WIT in {}: {e:#}", wit.display()),
        )
    })?;
    let world = resolve.select_world(&[package], None).map_err(|e| {
        failed(
            dir,
            format!("cannot choose the inmate's world (give its package one world): {e:#}"),
        )
    })?;
    Ok((resolve, world))
}

/// Finds `program` in the toolchains folder (under each of `under`) or on `PATH`; the
/// error says where it looked and what to install.
fn find_tool(program: &str, under: &[&str], install: &str) -> Result<PathBuf, String> {
    let mut looked = Vec::new();
    if let Some(root) = toolchain::dir() {
        for sub in under {
            let path = root.join(sub).join(program);
            if path.is_file() {
                return Ok(path);
            }
            looked.push(path.display().to_string());
        }
    } else {
        looked.push(format!("{} (not set)", toolchain::ENV));
    }
    if let Some(path) = on_path(program) {
        return Ok(path);
    }
    looked.push("PATH".into());
    Err(format!(
        "`{program}` was not found (looked in {}). {install}",
        looked.join(", ")
    ))
}

/// `program` on `PATH`, if it is there.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A folder for one build's intermediate files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(dir: &Path, language: &str) -> Result<Scratch, Error> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "hoosegow-{language}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| {
            failed(
                dir,
                format!("cannot create a build folder {}: {e}", path.display()),
            )
        })?;
        Ok(Scratch(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How many of a failed tool's last lines go into the error.
const TAIL_LINES: usize = 80;

/// Runs a toolchain command for the inmate in `dir`, passing its stdout and stderr to
/// `progress` line by line; a failure carries the output's last lines.
async fn run(
    dir: &Path,
    what: &str,
    mut command: Command,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), Error> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(dir, format!("cannot run {what}: {e}")))?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    forward_lines(child.stdout.take().expect("piped"), tx.clone());
    forward_lines(child.stderr.take().expect("piped"), tx);
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    while let Some(line) = rx.recv().await {
        progress(&line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| failed(dir, format!("{what} did not finish: {e}")))?;
    if !status.success() {
        let said: Vec<String> = tail.into();
        // 127: a script's interpreter (`#!/usr/bin/env node`, a venv's python3) is missing.
        let hint = if status.code() == Some(127) {
            "\nA program it runs was not found: JavaScript and Ruby inmates need Node.js \
             (`apt-get install nodejs`), Python inmates python3; `cargo xtask toolchains` \
             installs the rest"
        } else {
            ""
        };
        return Err(failed(
            dir,
            format!("{what} failed ({status}):\n{}{hint}", said.join("\n")),
        ));
    }
    Ok(())
}

fn forward_lines(
    stream: impl AsyncRead + Unpin + Send + 'static,
    tx: mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
}

/// Reads a file a toolchain produced.
async fn read_output(dir: &Path, path: &Path) -> Result<Vec<u8>, Error> {
    tokio::fs::read(path)
        .await
        .map_err(|e| failed(dir, format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder_with(files: &[&str]) -> Scratch {
        let scratch = Scratch::new(Path::new("/"), "test").unwrap();
        for f in files {
            std::fs::write(scratch.path().join(f), "").unwrap();
        }
        scratch
    }

    #[test]
    fn a_folder_without_project_files_is_refused_with_what_to_add() {
        let err = Language::of(Path::new("/")).unwrap_err().to_string();
        assert!(
            err.contains("expected, next to its wit/ folder, a Cargo.toml"),
            "{err}"
        );
        let err = Language::of(Path::new("/no/such/inmate"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such folder"), "{err}");
    }

    #[test]
    fn languages_are_recognised_from_their_files() {
        for (files, language) in [
            (&["Cargo.toml", "app.py"][..], Language::Rust),
            (&["app.py", "helper.js"], Language::Python),
            (&["index.js", "util.js"], Language::JavaScript),
            (&["main.mjs"], Language::JavaScript),
            (&["a.c", "b.c", "x.h"], Language::C),
            (&["eval.rb"], Language::Ruby),
            (&["tables.wat"], Language::Wat),
        ] {
            let dir = folder_with(files);
            assert_eq!(Language::of(dir.path()).unwrap(), language, "{files:?}");
        }
        // Two modules and no index.js: which one is the entry point is not guessed.
        for files in [&["a.js", "b.js"], &["a.wat", "b.wat"]] {
            let dir = folder_with(files);
            assert!(Language::of(dir.path()).is_err(), "{files:?}");
        }
    }

    #[tokio::test]
    async fn a_tool_whose_interpreter_is_missing_says_what_to_install() {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "echo \"env: 'node': No such file or directory\" >&2; exit 127",
        ]);
        let err = run(Path::new("/x"), "componentize-js", command, &mut |_| {})
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("env: 'node'") && err.contains("apt-get install nodejs"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_tool_says_where_it_looked_and_what_to_install() {
        let err = find_tool("no-such-tool-hoosegow", &["bin"], "Install it with X.").unwrap_err();
        assert!(
            err.contains("`no-such-tool-hoosegow` was not found"),
            "{err}"
        );
        assert!(
            err.contains("PATH") && err.ends_with("Install it with X."),
            "{err}"
        );
    }
}
