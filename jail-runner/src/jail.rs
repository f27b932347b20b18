//! A loaded inmate, and one call in a fresh wasm instance.
//!
//! Loading links the component once (`InstancePre`); each call then gets its own `Store`,
//! WASI context and instance, so nothing one call leaves behind is seen by the next. WASI
//! gives the inmate captured stdout/stderr, clocks and random, and nothing else: no
//! preopened directories, no environment, no arguments, no stdin, and sockets that refuse
//! every address.

use crate::engine::{self, Running, Ticker};
use crate::output::{Output, Stream};
use crate::{val, world};
use hoosegow_wire::message::{Failure, FailureKind, Limits};
use hoosegow_wire::types::{Func as FuncType, World};
use hoosegow_wire::value::Path;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{
    Component, ComponentExportIndex, InstancePre, Linker, ResourceTable, Val,
};
use wasmtime::{Engine, ResourceLimiter, Store, StoreContextMut, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Whoever runs the jail: answers the inmate's callbacks and takes its output.
///
/// The runner binary implements it with frames to the host; the host library's
/// in-process backend with the application's handlers and writers.
pub trait Host: Send + Sync {
    /// Answers the callback `name` (a non-WASI import the inmate called) with a value of
    /// the import's result type (`null` if it has none), or fails it with a message.
    fn callback(&self, name: &str, args: Vec<Value>) -> Result<Value, String>;

    /// Takes bytes the inmate wrote to `stream`, already counted against its limit.
    fn output(&self, stream: Stream, bytes: &[u8]);
}

/// Why an inmate cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The artifact is not the one the image was labelled with.
    #[error(
        "the inmate artifact's sha256 is {actual}, but the image was labelled with {expected}: \
         the artifact changed after the image was built; rebuild the image"
    )]
    ArtifactMismatch {
        /// The labelled hash.
        expected: String,
        /// The hash of the bytes found.
        actual: String,
    },
    /// wasmtime could not compile or deserialize the artifact.
    #[error("cannot load the inmate component: {0}")]
    Component(String),
    /// The world uses something that cannot cross the wall.
    #[error(transparent)]
    World(#[from] world::WorldError),
    /// The inmate imports something the jail does not provide.
    #[error(
        "cannot link the inmate: {0}; a jail provides WASI 0.2 and callbacks to the application, nothing else"
    )]
    Link(String),
}

/// A loaded inmate, ready to run calls.
pub struct Jail {
    engine: Engine,
    pre: InstancePre<State>,
    world: World,
    exports: HashMap<String, (ComponentExportIndex, usize)>,
    ticker: Ticker,
    sha256: String,
}

/// The hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Jail {
    /// Loads a precompiled artifact (`.cwasm`), refusing it before anything is
    /// deserialized if its sha256 is not `expected_sha256`.
    pub fn load_precompiled(
        engine: &Engine,
        cwasm: &[u8],
        expected_sha256: &str,
    ) -> Result<Jail, LoadError> {
        let actual = sha256_hex(cwasm);
        if !actual.eq_ignore_ascii_case(expected_sha256) {
            return Err(LoadError::ArtifactMismatch {
                expected: expected_sha256.to_string(),
                actual,
            });
        }
        // SAFETY: deserializing runs no code from the artifact, but trusts it to be
        // wasmtime's own output; its hash was just checked against the one recorded
        // (by the host that precompiled it) in the image label.
        let component = unsafe { Component::deserialize(engine, cwasm) }
            .map_err(|e| LoadError::Component(format!("{e:#}")))?;
        Jail::new(engine, component, actual)
    }

    /// Compiles a component (`.wasm`) and loads it.
    #[cfg(feature = "compiler")]
    pub fn compile(engine: &Engine, wasm: &[u8]) -> Result<Jail, LoadError> {
        let component =
            Component::new(engine, wasm).map_err(|e| LoadError::Component(format!("{e:#}")))?;
        Jail::new(engine, component, sha256_hex(wasm))
    }

    /// Compiles a component, checks that it can be hosted, and returns the precompiled
    /// artifact for the runner (same engine configuration) with the inmate's world.
    #[cfg(feature = "compiler")]
    pub fn precompile(engine: &Engine, wasm: &[u8]) -> Result<(Vec<u8>, World), LoadError> {
        let jail = Jail::compile(engine, wasm)?;
        let cwasm = jail
            .pre
            .component()
            .serialize()
            .map_err(|e| LoadError::Component(format!("{e:#}")))?;
        Ok((cwasm, jail.world))
    }

    fn new(engine: &Engine, component: Component, sha256: String) -> Result<Jail, LoadError> {
        let world = world::of(engine, &component)?;
        let mut linker = Linker::<State>::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        define_callbacks(&mut linker, &world).map_err(|e| LoadError::Link(format!("{e:#}")))?;
        define_log(&mut linker).map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let mut exports = HashMap::new();
        for (i, func) in world.exports.iter().enumerate() {
            let index = match func.name.split_once('#') {
                Some((interface, name)) => component
                    .get_export_index(None, interface)
                    .and_then(|iface| component.get_export_index(Some(&iface), name)),
                None => component.get_export_index(None, func.name.as_str()),
            };
            let index = index
                .ok_or_else(|| LoadError::Component(format!("export `{}` not found", func.name)))?;
            exports.insert(func.name.clone(), (index, i));
        }
        Ok(Jail {
            engine: engine.clone(),
            ticker: Ticker::start(engine),
            pre,
            world,
            exports,
            sha256,
        })
    }

    /// The inmate's exports and callbacks.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// sha256 of the artifact this jail was loaded from.
    pub fn artifact_sha256(&self) -> &str {
        &self.sha256
    }

    /// Calls the export `func` with JSON `args` in a fresh instance, within `limits`.
    pub fn call(
        &self,
        func: &str,
        args: &[Value],
        limits: &Limits,
        host: Arc<dyn Host>,
    ) -> Result<Value, Failure> {
        let Some(&(index, i)) = self.exports.get(func) else {
            return Err(failure(
                FailureKind::BadCall,
                format!(
                    "the inmate has no export `{func}`; its exports are: {}",
                    self.world.export_names().join(", ")
                ),
            ));
        };
        let ty = &self.world.exports[i];
        let params = params(ty, args).map_err(|message| failure(FailureKind::BadCall, message))?;

        let _running: Running = self.ticker.run();
        let output = Output::new(host.clone(), limits.stdout_bytes, limits.stderr_bytes);
        let mut store = Store::new(&self.engine, State::new(host, &output, limits));
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut store| {
            if Instant::now() < store.data().deadline {
                return Ok(UpdateDeadline::Continue(1));
            }
            store.data_mut().timed_out = true;
            Ok(UpdateDeadline::Interrupt)
        });

        let mut results = vec![Val::Bool(false); usize::from(ty.result.is_some())];
        let outcome = self.pre.instantiate(&mut store).and_then(|instance| {
            let func = instance
                .get_func(&mut store, index)
                .ok_or_else(|| wasmtime::format_err!("export `{func}` is not a function"))?;
            func.call(&mut store, &params, &mut results)
        });
        match outcome {
            Ok(()) => Ok(match (&ty.result, results.first()) {
                (Some(ty), Some(val)) => val::from_val(ty, val),
                _ => Value::Null,
            }),
            Err(error) => Err(classify(store.data(), &output, limits, &error)),
        }
    }
}

fn params(func: &FuncType, args: &[Value]) -> Result<Vec<Val>, String> {
    if args.len() != func.params.len() {
        return Err(format!(
            "`{func}` takes {} argument(s), got {}",
            func.params.len(),
            args.len()
        ));
    }
    let mut params = Vec::with_capacity(args.len());
    for (i, (param, arg)) in func.params.iter().zip(args).enumerate() {
        let root = format!("args[{i}]");
        params.push(val::to_val(&param.ty, arg, &Path::Root(&root)).map_err(|e| e.to_string())?);
    }
    Ok(params)
}

/// Turns a failed call into the failure the host reports, most specific cause first.
fn classify(state: &State, output: &Output, limits: &Limits, error: &wasmtime::Error) -> Failure {
    let backtrace = error
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| {
            // One line per frame ("0: 0x1b3 - inmate.wasm!func"), without the heading.
            bt.to_string()
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let (kind, message) = if let Some((name, message)) = &state.callback_failure {
        (
            FailureKind::Callback,
            format!("callback `{name}` failed: {message}"),
        )
    } else if state.timed_out {
        (
            FailureKind::Timeout,
            format!("the call ran past its deadline of {} ms", limits.timeout_ms),
        )
    } else if let Some(hit) = &state.limiter.hit {
        (FailureKind::ResourceLimit, hit.clone())
    } else if let Some((stream, limit)) = output.exceeded() {
        (
            FailureKind::OutputLimit,
            format!(
                "the inmate wrote more than its {} limit of {limit} bytes",
                stream.name()
            ),
        )
    } else if let Some(panic) = output.panic_message() {
        (FailureKind::Panic, panic)
    } else {
        let message = match error.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => format!("wasm trap: {trap}"),
            None => format!("{error:#}"),
        };
        (FailureKind::Trap, message)
    };
    Failure {
        kind,
        message,
        backtrace,
    }
}

fn failure(kind: FailureKind, message: String) -> Failure {
    Failure {
        kind,
        message,
        backtrace: Vec::new(),
    }
}

/// `hoosegow:jail/log`: a line on the call's stderr.
fn define_log(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker
        .instance(world::JAIL_LOG)?
        .func_new("log", |store, _, params, _| {
            let (Some(Val::Enum(level)), Some(Val::String(message))) =
                (params.first(), params.get(1))
            else {
                wasmtime::bail!("hoosegow:jail/log.log takes a level and a message");
            };
            let line = format!("[{level}] {message}\n");
            store
                .data()
                .output
                .write(Stream::Stderr, line.as_bytes())
                .map_err(|e| wasmtime::format_err!(e))
        })
}

/// Forwards every callback import to the [`Host`], converting values both ways.
fn define_callbacks(linker: &mut Linker<State>, world: &World) -> wasmtime::Result<()> {
    let mut by_interface: HashMap<Option<&str>, Vec<(&str, &FuncType)>> = HashMap::new();
    for import in &world.imports {
        match import.name.split_once('#') {
            Some((interface, name)) => by_interface
                .entry(Some(interface))
                .or_default()
                .push((name, import)),
            None => by_interface
                .entry(None)
                .or_default()
                .push((&import.name, import)),
        }
    }
    for (interface, funcs) in by_interface {
        let mut instance = match interface {
            Some(interface) => linker.instance(interface)?,
            None => linker.root(),
        };
        for (name, func) in funcs {
            let func = func.clone();
            instance.func_new(name, move |store, _, params, results| {
                forward(store, &func, params, results)
            })?;
        }
    }
    Ok(())
}

fn forward(
    mut store: StoreContextMut<'_, State>,
    func: &FuncType,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let args = func
        .params
        .iter()
        .zip(params)
        .map(|(p, v)| val::from_val(&p.ty, v))
        .collect();
    let state = store.data_mut();
    let reply = state.host.callback(&func.name, args).and_then(|value| {
        match (&func.result, results.first_mut()) {
            (Some(ty), Some(slot)) => {
                *slot = val::to_val(ty, &value, &Path::Root("reply")).map_err(|e| e.to_string())?;
                Ok(())
            }
            _ => Ok(()),
        }
    });
    reply.map_err(|message| {
        let error = wasmtime::format_err!("callback `{}` failed: {message}", func.name);
        state.callback_failure = Some((func.name.clone(), message));
        error
    })
}

/// Everything one call's store holds.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    host: Arc<dyn Host>,
    output: Arc<Output>,
    deadline: Instant,
    timed_out: bool,
    callback_failure: Option<(String, String)>,
}

impl State {
    fn new(host: Arc<dyn Host>, output: &Arc<Output>, limits: &Limits) -> State {
        let wasi = WasiCtxBuilder::new()
            .stdout(output.sink(Stream::Stdout))
            .stderr(output.sink(Stream::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                memory_bytes: (limits.memory_bytes as usize).min(engine::MAX_MEMORY_BYTES),
                hit: None,
            },
            host,
            output: output.clone(),
            deadline: Instant::now() + Duration::from_millis(limits.timeout_ms),
            timed_out: false,
            callback_failure: None,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and tables, remembering which cap the inmate ran into.
struct Limiter {
    memory_bytes: usize,
    hit: Option<String>,
}

/// Table elements any one table may hold.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            let message = format!(
                "the inmate asked for {desired} bytes of linear memory, over the memory limit of {} bytes",
                self.memory_bytes
            );
            self.hit = Some(message.clone());
            wasmtime::bail!(message);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            let message = format!(
                "the inmate asked for a table of {desired} elements, over the table limit of {MAX_TABLE_ELEMENTS}"
            );
            self.hit = Some(message.clone());
            wasmtime::bail!(message);
        }
        Ok(true)
    }
}
