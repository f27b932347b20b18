//! Ruby inmates: untrusted Ruby scripts run by ruby.wasm (CRuby 3.4 with its standard
//! library packed inside, from npm).
//!
//! The inmate folder holds its world and a Ruby program (`*.rb`) that defines
//! `Hoosegow.eval(script, input)`; the world exports exactly
//! `eval: func(script: string, input: string) -> result<string, string>`. What
//! `Hoosegow.eval` returns becomes `ok`; what it raises becomes `err`, in the gem's
//! shape: the first line `Class: message`, then one backtrace line each.
//!
//! ruby.wasm is a core module built for an older, JavaScript-only binding: its exports use
//! a pre-component ABI, and it imports `rb-js-abi-host` (calls into a browser's
//! JavaScript) and `canonical_abi` (that binding's resource handles). So it cannot be
//! made a component as it is. The build rewrites it instead:
//!
//! 1. the JavaScript imports become functions that trap (a jail has no JavaScript, and
//!    nothing reaches them unless a script requires `js`), and the handle imports become
//!    the identity (handles are only passed between the functions added here);
//! 2. two functions are added, written here in wasm: `hoosegow-init`, which starts the VM
//!    (`ruby-init`) and loads the inmate's program, and `eval`, the export of the
//!    inmate's world in the component model's ABI, which hands the two strings to Ruby
//!    (hex-encoded inside a Ruby expression, so no byte can break out of it) and lays out
//!    the `result` Ruby returns;
//! 3. wizer runs `hoosegow-init` at build time and snapshots the memory: the VM is booted
//!    and the program loaded once, when the image is built, not on every call;
//! 4. the snapshot, with the world's metadata, becomes a component through the WASI
//!    preview1 reactor adapter, like a C inmate.

use super::{Scratch, failed, files_in, find_tool, read_output, run, toolchain, world};
use crate::error::Error;
use std::path::{Path, PathBuf};
use tokio::process::Command;
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection, ImportSection,
    Instruction as I, MemArg, Module, TypeSection, ValType,
};
use wasmparser::{Parser, Payload, TypeRef};
use wit_parser::{Resolve, Type, WorldId, WorldItem};

/// What the world must export, said in errors.
const EXPECTED_WORLD: &str = "exactly one export, `eval: func(script: string, input: string) -> \
                              result<string, string>`, and no imports";

/// Arguments `ruby-init` gets: those ruby.wasm's own JavaScript binding passes
/// (`-e_=0`: an empty main script, so Ruby reads none).
const RUBY_ARGS: &[&str] = &["ruby.wasm", "-EUTF-8", "-e_=0"];

/// Ruby the build adds before the inmate's program: how the added wasm functions reach
/// it. Arguments arrive hex-encoded so that the Ruby expression carrying them is always
/// well formed; the answer is `o` + output or `e` + the error.
const PRELUDE: &str = r##"
module Hoosegow
  def self.__load(hex, file)
    @file = file
    TOPLEVEL_BINDING.eval([hex].pack("H*").force_encoding(Encoding::UTF_8), file, 1)
    raise "the program does not define Hoosegow.eval(script, input)" unless respond_to?(:eval)
    GC.start
    true
  rescue Exception => e
    STDERR.puts "the inmate's Ruby program failed to load: #{e.class}: #{e.message}"
    STDERR.puts e.backtrace
    false
  end

  def self.__call(script_hex, input_hex)
    script = [script_hex].pack("H*").force_encoding(Encoding::UTF_8)
    input = [input_hex].pack("H*").force_encoding(Encoding::UTF_8)
    # The snapshot froze one seed into every instance: draw a fresh one per call.
    srand
    "o" + eval(script, input).to_s
  rescue Exception => e
    # The script's frames, not those of this prelude or of the inmate's program.
    frames = (e.backtrace || []).reject { |l| l.start_with?("eval:", "-e:", "#{@file}:") }
    "e" + ["#{e.class}: #{e.message}", *frames].join("\n")
  end
end

# ruby.wasm has no processes, but says so unevenly: a backtick fails deep inside Kernel
# with an ArgumentError, and `system` answers true without running anything. Every way
# to start a program raises the same plain error instead.
[Kernel, Kernel.singleton_class, IO.singleton_class, Process.singleton_class].each do |owner|
  %i[` system spawn exec popen].each do |name|
    hidden = owner.private_method_defined?(name, false)
    next unless hidden || owner.method_defined?(name, false)
    owner.define_method(name) { |*| raise NotImplementedError, "a jail runs no other programs (#{name})" }
    owner.send(:private, name) if hidden
  end
end
"##;

pub(super) async fn compile(
    dir: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<u8>, Error> {
    let install = format!(
        "Ruby inmates are built from {} with {}: {}",
        toolchain::RUBY_WASM,
        toolchain::WIZER,
        toolchain::how_to_install()
    );
    let ruby = ruby_wasm().ok_or_else(|| {
        failed(
            dir,
            format!("ruby.wasm (ruby+stdlib.wasm) was not found. {install}"),
        )
    })?;
    let wizer =
        find_tool("wizer", &["node/node_modules/.bin"], &install).map_err(|e| failed(dir, e))?;
    let (resolve, world) = world(dir)?;
    check_world(&resolve, world).map_err(|e| {
        failed(
            dir,
            format!("{e}; a Ruby inmate's world has {EXPECTED_WORLD}"),
        )
    })?;
    let programs: Vec<PathBuf> = files_in(dir)?
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rb"))
        .collect();
    let [program] = programs.as_slice() else {
        return Err(failed(
            dir,
            "a Ruby inmate has one Ruby program (*.rb) defining Hoosegow.eval(script, input)",
        ));
    };
    let source = read_output(dir, program).await?;
    let file = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    progress(&format!(
        "rewriting {} for the component model",
        ruby.display()
    ));
    let core = read_output(dir, &ruby).await?;
    let glued = glue(&core, &source, &file)
        .map_err(|e| failed(dir, format!("cannot rewrite ruby.wasm: {e}")))?;
    let scratch = Scratch::new(dir, "ruby")?;
    let glued_path = scratch.path().join("glued.wasm");
    let initialised = scratch.path().join("initialised.wasm");
    std::fs::write(&glued_path, glued)
        .map_err(|e| failed(dir, format!("cannot write {}: {e}", glued_path.display())))?;

    progress("booting Ruby and loading the program once, at build time (wizer)");
    let mut command = Command::new(wizer);
    command
        .arg(&glued_path)
        .arg("-o")
        .arg(&initialised)
        .args(["--init-func", "hoosegow-init"])
        .args(["--allow-wasi", "--inherit-stdio", "true"])
        .args(["--wasm-bulk-memory", "true"])
        .current_dir(scratch.path());
    run(dir, "wizer", command, progress).await?;

    let mut module = read_output(dir, &initialised).await?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| failed(dir, format!("cannot embed the world: {e:#}")))?;
    super::c::componentize(&module)
        .map_err(|e| failed(dir, format!("wasm-tools component new: {e:#}")))
}

/// `ruby+stdlib.wasm` of the pinned npm package under the toolchains folder.
fn ruby_wasm() -> Option<PathBuf> {
    let path =
        toolchain::dir()?.join("node/node_modules/@ruby/3.4-wasm-wasi/dist/ruby+stdlib.wasm");
    path.is_file().then_some(path)
}

/// The world must be the one the added `eval` function implements.
fn check_world(resolve: &Resolve, world: WorldId) -> Result<(), String> {
    let world = &resolve.worlds[world];
    if !world.imports.is_empty() {
        return Err(format!("world `{}` has imports", world.name));
    }
    let exports: Vec<_> = world.exports.values().collect();
    let [WorldItem::Function(func)] = exports.as_slice() else {
        return Err(format!(
            "world `{}` does not export one function",
            world.name
        ));
    };
    let strings = func.params.len() == 2
        && func.params.iter().all(|p| p.ty == Type::String)
        && func.name == "eval";
    let result = match func.result {
        Some(Type::Id(id)) => match &resolve.types[id].kind {
            wit_parser::TypeDefKind::Result(r) => {
                r.ok == Some(Type::String) && r.err == Some(Type::String)
            }
            _ => false,
        },
        _ => false,
    };
    if !(strings && result) {
        return Err(format!("`{}` has another signature", func.name));
    }
    Ok(())
}

/// Maps ruby.wasm's function indices to those of the rewritten module.
struct Remap(Vec<u32>);

impl Reencode for Remap {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<Self::Error>> {
        Ok(self.0[func as usize])
    }
}

/// What a removed import becomes.
enum Stub {
    /// Traps: JavaScript calls.
    Trap,
    /// Returns its argument: handle to representation and back.
    Identity,
    /// Does nothing: dropping a handle.
    Nothing,
}

/// The exports of ruby.wasm the added functions call, by their old indices.
#[derive(Default)]
struct RubyExports {
    initialize: Option<u32>,
    realloc: Option<u32>,
    ruby_init: Option<u32>,
    eval_protect: Option<u32>,
    rstring_ptr: Option<u32>,
}

/// Rewrites ruby.wasm (step 1 and 2 of the module documentation); `program` is the
/// inmate's Ruby source, loaded by `hoosegow-init` from `file`.
fn glue(core: &[u8], program: &[u8], file: &str) -> Result<Vec<u8>, String> {
    // First pass: the types, imports, defined functions and exports.
    let mut types = Vec::new();
    let mut imports = Vec::new();
    let mut defined = 0u32;
    let mut found = RubyExports::default();
    for payload in Parser::new(0).parse_all(core) {
        match payload.map_err(|e| e.to_string())? {
            Payload::TypeSection(s) => {
                for ty in s.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(|e| e.to_string())?);
                }
            }
            Payload::ImportSection(s) => {
                for import in s.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    imports.push((
                        import.module.to_string(),
                        import.name.to_string(),
                        import.ty,
                    ));
                }
            }
            Payload::FunctionSection(s) => defined = s.count(),
            Payload::ExportSection(s) => {
                for export in s {
                    let export = export.map_err(|e| e.to_string())?;
                    if export.kind != wasmparser::ExternalKind::Func {
                        continue;
                    }
                    let name = export.name.split(':').next().unwrap_or_default();
                    let slot = match name {
                        "_initialize" => &mut found.initialize,
                        "cabi_realloc" => &mut found.realloc,
                        "ruby-init" => &mut found.ruby_init,
                        "rb-eval-string-protect" => &mut found.eval_protect,
                        "rstring-ptr" => &mut found.rstring_ptr,
                        _ => continue,
                    };
                    *slot = Some(export.index);
                }
            }
            _ => {}
        }
    }
    let need = |f: Option<u32>, name: &str| {
        f.ok_or_else(|| format!("ruby.wasm does not export `{name}`: not the build this expects"))
    };
    let initialize = need(found.initialize, "_initialize")?;
    let realloc = need(found.realloc, "cabi_realloc")?;
    let ruby_init = need(found.ruby_init, "ruby-init")?;
    let eval_protect = need(found.eval_protect, "rb-eval-string-protect")?;
    let rstring_ptr = need(found.rstring_ptr, "rstring-ptr")?;

    // The new function index space: kept imports, ruby's own functions, stubs, ours.
    let imported_funcs: Vec<usize> = (0..imports.len())
        .filter(|&i| matches!(imports[i].2, TypeRef::Func(_)))
        .collect();
    let keep = |module: &str| module == "wasi_snapshot_preview1";
    let kept: Vec<usize> = imported_funcs
        .iter()
        .copied()
        .filter(|&i| keep(&imports[i].0))
        .collect();
    let removed: Vec<usize> = imported_funcs
        .iter()
        .copied()
        .filter(|&i| !keep(&imports[i].0))
        .collect();
    if imports
        .iter()
        .any(|(m, _, ty)| !keep(m) && !matches!(ty, TypeRef::Func(_)))
    {
        return Err("ruby.wasm imports something other than functions".into());
    }
    let n_imported = imported_funcs.len() as u32;
    let n_kept = kept.len() as u32;
    let mut map = vec![0u32; (n_imported + defined) as usize];
    let mut stubs = Vec::new();
    for (func, &import) in imported_funcs.iter().enumerate() {
        if let Some(pos) = kept.iter().position(|&k| k == import) {
            map[func] = pos as u32;
        } else {
            let pos = removed.iter().position(|&r| r == import).expect("removed");
            map[func] = n_kept + defined + pos as u32;
            let (module, name, ty) = &imports[import];
            let TypeRef::Func(ty) = ty else {
                unreachable!()
            };
            let kind = match (module.as_str(), name.as_str()) {
                ("canonical_abi", n) if n.starts_with("resource_new_") => Stub::Identity,
                ("canonical_abi", n) if n.starts_with("resource_get_") => Stub::Identity,
                ("canonical_abi", n) if n.starts_with("resource_drop_") => Stub::Nothing,
                _ => Stub::Trap,
            };
            stubs.push((*ty, kind));
        }
    }
    for f in 0..defined {
        map[(n_imported + f) as usize] = n_kept + f;
    }
    let mut remap = Remap(map);
    let f = |old: u32, remap: &Remap| remap.0[old as usize];
    let calls = Calls {
        initialize: f(initialize, &remap),
        realloc: f(realloc, &remap),
        ruby_init: f(ruby_init, &remap),
        eval_protect: f(eval_protect, &remap),
        rstring_ptr: f(rstring_ptr, &remap),
        hex: n_kept + defined + stubs.len() as u32,
    };
    let ours_first = calls.hex;
    let n_types = types.len() as u32;
    let (t_void, t_eval, t_hex) = (n_types, n_types + 1, n_types + 2);

    // Second pass: write the module.
    let mut module = Module::new();
    let mut code = CodeSection::new();
    let mut code_done = false;
    let finish_code = |code: &mut CodeSection, module: &mut Module| {
        for (ty, kind) in &stubs {
            let params = types[*ty as usize].params().len();
            let mut body = Function::new([]);
            match kind {
                Stub::Trap => {
                    body.instruction(&I::Unreachable);
                }
                Stub::Identity => {
                    body.instruction(&I::LocalGet(0));
                }
                Stub::Nothing => {}
            }
            debug_assert!(params >= 1 || matches!(kind, Stub::Trap));
            body.instruction(&I::End);
            code.function(&body);
        }
        code.function(&calls.hex_fn());
        code.function(&calls.init_fn(program, file));
        code.function(&calls.eval_fn());
        module.section(code);
    };
    for payload in Parser::new(0).parse_all(core) {
        let payload = payload.map_err(|e| e.to_string())?;
        let is_code = matches!(
            payload,
            Payload::CodeSectionStart { .. } | Payload::CodeSectionEntry(_)
        );
        if !is_code && !code.is_empty() && !code_done {
            finish_code(&mut code, &mut module);
            code_done = true;
        }
        let err = |e: reencode::Error<std::convert::Infallible>| e.to_string();
        match payload {
            Payload::TypeSection(s) => {
                let mut section = TypeSection::new();
                remap.parse_type_section(&mut section, s).map_err(err)?;
                section.ty().function([], []);
                section.ty().function([ValType::I32; 4], [ValType::I32]);
                section.ty().function([ValType::I32; 3], []);
                module.section(&section);
            }
            Payload::ImportSection(_) => {
                let mut section = ImportSection::new();
                for &i in &kept {
                    let (m, n, ty) = &imports[i];
                    let ty: EntityType = remap.entity_type(*ty).map_err(err)?;
                    section.import(m, n, ty);
                }
                module.section(&section);
            }
            Payload::FunctionSection(s) => {
                let mut section = FunctionSection::new();
                remap.parse_function_section(&mut section, s).map_err(err)?;
                for (ty, _) in &stubs {
                    section.function(*ty);
                }
                section.function(t_hex);
                section.function(t_void);
                section.function(t_eval);
                module.section(&section);
            }
            Payload::TableSection(s) => {
                let mut section = wasm_encoder::TableSection::new();
                remap.parse_table_section(&mut section, s).map_err(err)?;
                module.section(&section);
            }
            Payload::MemorySection(s) => {
                let mut section = wasm_encoder::MemorySection::new();
                remap.parse_memory_section(&mut section, s).map_err(err)?;
                module.section(&section);
            }
            Payload::GlobalSection(s) => {
                let mut section = wasm_encoder::GlobalSection::new();
                remap.parse_global_section(&mut section, s).map_err(err)?;
                module.section(&section);
            }
            Payload::ExportSection(_) => {
                // Only what the component needs: its memory, its allocator and `eval`,
                // and the initialiser for wizer (which removes it).
                let mut section = ExportSection::new();
                section.export("memory", ExportKind::Memory, 0);
                section.export("cabi_realloc", ExportKind::Func, calls.realloc);
                section.export("hoosegow-init", ExportKind::Func, ours_first + 1);
                section.export("eval", ExportKind::Func, ours_first + 2);
                module.section(&section);
            }
            Payload::StartSection { func, .. } => {
                module.section(&wasm_encoder::StartSection {
                    function_index: f(func, &remap),
                });
            }
            Payload::ElementSection(s) => {
                let mut section = wasm_encoder::ElementSection::new();
                remap.parse_element_section(&mut section, s).map_err(err)?;
                module.section(&section);
            }
            Payload::DataCountSection { count, .. } => {
                module.section(&wasm_encoder::DataCountSection { count });
            }
            Payload::CodeSectionEntry(body) => {
                remap.parse_function_body(&mut code, body).map_err(err)?;
            }
            Payload::DataSection(s) => {
                let mut section = wasm_encoder::DataSection::new();
                remap.parse_data_section(&mut section, s).map_err(err)?;
                module.section(&section);
            }
            Payload::TagSection(_) => return Err("ruby.wasm uses exception tags".into()),
            // Custom sections (names, producers) describe the old module; drop them.
            _ => {}
        }
    }
    if !code_done {
        return Err("ruby.wasm has no code".into());
    }
    let bytes = module.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .map_err(|e| format!("the rewritten module is not valid: {e}"))?;
    Ok(bytes)
}

/// The new indices of the functions the added code calls.
struct Calls {
    initialize: u32,
    realloc: u32,
    ruby_init: u32,
    eval_protect: u32,
    rstring_ptr: u32,
    /// The added hex encoder.
    hex: u32,
}

/// A memory access at `offset` from the address on the stack, byte-aligned.
fn mem(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        memory_index: 0,
    }
}

impl Calls {
    /// `realloc(0, 0, align, size)`: leaves the new block's address on the stack. Nothing
    /// allocated here is freed: every call runs in a fresh instance.
    fn alloc(&self, f: &mut Function, align: i32) {
        // The size is already on the stack; put the other arguments in front of it.
        let size = 0; // local 0 of the caller is a scratch local reserved for this
        f.instruction(&I::LocalSet(size));
        f.instruction(&I::I32Const(0));
        f.instruction(&I::I32Const(0));
        f.instruction(&I::I32Const(align));
        f.instruction(&I::LocalGet(size));
        f.instruction(&I::Call(self.realloc));
    }

    /// Stores `bytes` at the address in local `base`, four bytes a store.
    fn write(f: &mut Function, base: u32, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let offset = (i * 4) as u64;
            f.instruction(&I::LocalGet(base));
            if let Ok(word) = <[u8; 4]>::try_from(chunk) {
                f.instruction(&I::I32Const(i32::from_le_bytes(word)));
                f.instruction(&I::I32Store(mem(offset, 0)));
            } else {
                // The tail: byte by byte, so nothing past the block is touched.
                for (j, &b) in chunk.iter().enumerate() {
                    if j > 0 {
                        f.instruction(&I::LocalGet(base));
                    }
                    f.instruction(&I::I32Const(i32::from(b)));
                    f.instruction(&I::I32Store8(mem(offset + j as u64, 0)));
                }
            }
        }
    }

    /// A new block holding `bytes`: its address goes to local `into`.
    fn constant(&self, f: &mut Function, bytes: &[u8], into: u32) {
        f.instruction(&I::I32Const(bytes.len() as i32));
        self.alloc(f, 1);
        f.instruction(&I::LocalSet(into));
        Calls::write(f, into, bytes);
    }

    /// `hex(src, len, dst)`: writes the 2·len lowercase hex digits of `len` bytes.
    fn hex_fn(&self) -> Function {
        let (src, len, dst, i, n) = (0, 1, 2, 3, 4);
        let mut f = Function::new([(2, ValType::I32)]);
        let digit = |f: &mut Function, store_offset: u64| {
            // dst + 2i, then the digit of nibble n: '0' + n, or 'a' + n - 10.
            f.instruction(&I::LocalGet(dst));
            f.instruction(&I::LocalGet(i));
            f.instruction(&I::I32Const(1));
            f.instruction(&I::I32Shl);
            f.instruction(&I::I32Add);
            f.instruction(&I::LocalGet(n));
            f.instruction(&I::I32Const(48));
            f.instruction(&I::I32Const(87));
            f.instruction(&I::LocalGet(n));
            f.instruction(&I::I32Const(10));
            f.instruction(&I::I32LtU);
            f.instruction(&I::Select);
            f.instruction(&I::I32Add);
            f.instruction(&I::I32Store8(mem(store_offset, 0)));
        };
        f.instruction(&I::Block(wasm_encoder::BlockType::Empty));
        f.instruction(&I::Loop(wasm_encoder::BlockType::Empty));
        f.instruction(&I::LocalGet(i));
        f.instruction(&I::LocalGet(len));
        f.instruction(&I::I32GeU);
        f.instruction(&I::BrIf(1));
        // n = src[i] >> 4
        f.instruction(&I::LocalGet(src));
        f.instruction(&I::LocalGet(i));
        f.instruction(&I::I32Add);
        f.instruction(&I::I32Load8U(mem(0, 0)));
        f.instruction(&I::I32Const(4));
        f.instruction(&I::I32ShrU);
        f.instruction(&I::LocalSet(n));
        digit(&mut f, 0);
        // n = src[i] & 15
        f.instruction(&I::LocalGet(src));
        f.instruction(&I::LocalGet(i));
        f.instruction(&I::I32Add);
        f.instruction(&I::I32Load8U(mem(0, 0)));
        f.instruction(&I::I32Const(15));
        f.instruction(&I::I32And);
        f.instruction(&I::LocalSet(n));
        digit(&mut f, 1);
        f.instruction(&I::LocalGet(i));
        f.instruction(&I::I32Const(1));
        f.instruction(&I::I32Add);
        f.instruction(&I::LocalSet(i));
        f.instruction(&I::Br(0));
        f.instruction(&I::End);
        f.instruction(&I::End);
        f.instruction(&I::End);
        f
    }

    /// Evaluates the NUL-terminated Ruby source at local `ptr` (`len` bytes with the NUL);
    /// traps if it raised, else leaves the result's handle on the stack.
    fn eval_source(&self, f: &mut Function, ptr: u32, len: u32, ret: u32) {
        f.instruction(&I::LocalGet(ptr));
        f.instruction(&I::LocalGet(len));
        f.instruction(&I::Call(self.eval_protect));
        f.instruction(&I::LocalTee(ret));
        // tuple<handle, s32 state>: a state other than 0 means Ruby raised.
        f.instruction(&I::I32Load(mem(4, 2)));
        f.instruction(&I::If(wasm_encoder::BlockType::Empty));
        f.instruction(&I::Unreachable);
        f.instruction(&I::End);
        f.instruction(&I::LocalGet(ret));
        f.instruction(&I::I32Load(mem(0, 2)));
    }

    /// `hoosegow-init`: starts the VM, evaluates the prelude, loads the program.
    fn init_fn(&self, program: &[u8], file: &str) -> Function {
        // local 0: scratch for alloc; 1: args list; 2: a string; 3: its length; 4: ret.
        let (args, s, len, ret) = (1, 2, 3, 4);
        let mut f = Function::new([(5, ValType::I32)]);
        f.instruction(&I::Call(self.initialize));

        // ruby-init(list<string>): (pointer, length) pairs, NUL-terminated strings.
        f.instruction(&I::I32Const(8 * RUBY_ARGS.len() as i32));
        self.alloc(&mut f, 4);
        f.instruction(&I::LocalSet(args));
        for (k, arg) in RUBY_ARGS.iter().enumerate() {
            let bytes = [arg.as_bytes(), b"\0"].concat();
            self.constant(&mut f, &bytes, s);
            f.instruction(&I::LocalGet(args));
            f.instruction(&I::LocalGet(s));
            f.instruction(&I::I32Store(mem(8 * k as u64, 2)));
            f.instruction(&I::LocalGet(args));
            f.instruction(&I::I32Const(bytes.len() as i32));
            f.instruction(&I::I32Store(mem(8 * k as u64 + 4, 2)));
        }
        f.instruction(&I::LocalGet(args));
        f.instruction(&I::I32Const(RUBY_ARGS.len() as i32));
        f.instruction(&I::Call(self.ruby_init));

        let hex: String = program.iter().map(|b| format!("{b:02x}")).collect();
        let file: String = file.bytes().map(|b| format!("{b:02x}")).collect();
        let load = format!(
            "{PRELUDE}\nHoosegow.__load(\"{hex}\", [\"{file}\"].pack(\"H*\")) or raise \"load\"\n\0"
        );
        self.constant(&mut f, load.as_bytes(), s);
        f.instruction(&I::I32Const(load.len() as i32));
        f.instruction(&I::LocalSet(len));
        self.eval_source(&mut f, s, len, ret);
        f.instruction(&I::Drop);
        f.instruction(&I::End);
        f
    }

    /// `eval(script, input) -> result<string, string>` in the component model's ABI:
    /// the strings arrive as (pointer, length) pairs, and the result is returned as the
    /// address of {discriminant: u8, pointer: u32 at 4, length: u32 at 8}.
    fn eval_fn(&self) -> Function {
        let (sp, sl, ip, il) = (0, 1, 2, 3);
        // Locals after the parameters: scratch, source, total, cursor, ret, answer.
        let (scratch, src, total, at, ret, answer) = (4, 5, 6, 7, 8, 9);
        let mut f = Function::new([(6, ValType::I32)]);
        let prefix = b"Hoosegow.__call(\"";
        let middle = b"\",\"";
        let suffix = b"\")\0";
        // total = |prefix| + 2·sl + |middle| + 2·il + |suffix|
        f.instruction(&I::LocalGet(sl));
        f.instruction(&I::LocalGet(il));
        f.instruction(&I::I32Add);
        f.instruction(&I::I32Const(1));
        f.instruction(&I::I32Shl);
        f.instruction(&I::I32Const(
            (prefix.len() + middle.len() + suffix.len()) as i32,
        ));
        f.instruction(&I::I32Add);
        f.instruction(&I::LocalTee(total));
        // alloc uses local 0 as its scratch; here that is a parameter, so use `scratch`.
        f.instruction(&I::LocalSet(scratch));
        f.instruction(&I::I32Const(0));
        f.instruction(&I::I32Const(0));
        f.instruction(&I::I32Const(1));
        f.instruction(&I::LocalGet(scratch));
        f.instruction(&I::Call(self.realloc));
        f.instruction(&I::LocalTee(src));
        f.instruction(&I::LocalSet(at));
        let put = |f: &mut Function, bytes: &[u8]| {
            Calls::write(f, at, bytes);
            f.instruction(&I::LocalGet(at));
            f.instruction(&I::I32Const(bytes.len() as i32));
            f.instruction(&I::I32Add);
            f.instruction(&I::LocalSet(at));
        };
        let hex = |f: &mut Function, ptr: u32, len: u32| {
            f.instruction(&I::LocalGet(ptr));
            f.instruction(&I::LocalGet(len));
            f.instruction(&I::LocalGet(at));
            f.instruction(&I::Call(self.hex));
            f.instruction(&I::LocalGet(at));
            f.instruction(&I::LocalGet(len));
            f.instruction(&I::I32Const(1));
            f.instruction(&I::I32Shl);
            f.instruction(&I::I32Add);
            f.instruction(&I::LocalSet(at));
        };
        put(&mut f, prefix);
        hex(&mut f, sp, sl);
        put(&mut f, middle);
        hex(&mut f, ip, il);
        put(&mut f, suffix);

        // answer = rstring-ptr(eval(source)): (pointer, length) of "o…" or "e…".
        self.eval_source(&mut f, src, total, ret);
        f.instruction(&I::Call(self.rstring_ptr));
        f.instruction(&I::LocalSet(answer));
        f.instruction(&I::I32Const(12));
        f.instruction(&I::LocalSet(scratch));
        f.instruction(&I::I32Const(0));
        f.instruction(&I::I32Const(0));
        f.instruction(&I::I32Const(4));
        f.instruction(&I::LocalGet(scratch));
        f.instruction(&I::Call(self.realloc));
        f.instruction(&I::LocalSet(ret));
        // discriminant: 1 (err) when the first byte is 'e'
        f.instruction(&I::LocalGet(ret));
        f.instruction(&I::LocalGet(answer));
        f.instruction(&I::I32Load(mem(0, 2)));
        f.instruction(&I::I32Load8U(mem(0, 0)));
        f.instruction(&I::I32Const(i32::from(b'e')));
        f.instruction(&I::I32Eq);
        f.instruction(&I::I32Store8(mem(0, 0)));
        // the payload: the string without its first byte
        f.instruction(&I::LocalGet(ret));
        f.instruction(&I::LocalGet(answer));
        f.instruction(&I::I32Load(mem(0, 2)));
        f.instruction(&I::I32Const(1));
        f.instruction(&I::I32Add);
        f.instruction(&I::I32Store(mem(4, 2)));
        f.instruction(&I::LocalGet(ret));
        f.instruction(&I::LocalGet(answer));
        f.instruction(&I::I32Load(mem(4, 2)));
        f.instruction(&I::I32Const(1));
        f.instruction(&I::I32Sub);
        f.instruction(&I::I32Store(mem(8, 2)));
        f.instruction(&I::LocalGet(ret));
        f.instruction(&I::End);
        f
    }
}
