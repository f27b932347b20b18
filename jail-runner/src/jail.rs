//! A loaded inmate, and one call in a fresh wasm instance.
//!
//! Loading links the component once (`InstancePre`); each call then gets its own `Store`,
//! WASI context and instance, so nothing one call leaves behind is seen by the next. What
//! the inmate can import is in [`crate::link`]; what a call's store enforces, in
//! [`crate::store`].

use crate::engine::{Running, Ticker};
use crate::output::Stream;
use crate::store::State;
use crate::{link, val, world};
use hoosegow_wire::message::{Failure, FailureKind, Limit, Limits};
use hoosegow_wire::types::{Func as FuncType, World};
use hoosegow_wire::value::Path;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use wasmtime::component::{Component, ComponentExportIndex, Instance, InstancePre, Val};
use wasmtime::{Engine, Store, UpdateDeadline};

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

/// A store and instance made ahead of a call by [`Jail::prepare`].
pub struct Prepared {
    store: Store<State>,
    instance: Instance,
    limits: Limits,
    relay: Arc<Relay>,
}

/// A store's [`Host`], known from when its call begins: a store made ahead of its call
/// has none before. Whatever the inmate tries before then marks the store used early.
#[derive(Default)]
struct Relay {
    host: OnceLock<Arc<dyn Host>>,
    early: AtomicBool,
}

impl Relay {
    fn begin(&self, host: Arc<dyn Host>) {
        let _ = self.host.set(host);
    }

    fn used_early(&self) -> bool {
        self.early.load(Ordering::Relaxed)
    }
}

impl Host for Relay {
    fn callback(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        match self.host.get() {
            Some(host) => host.callback(name, args),
            None => {
                self.early.store(true, Ordering::Relaxed);
                Err(format!("callback `{name}` before any call began"))
            }
        }
    }

    fn output(&self, stream: Stream, bytes: &[u8]) {
        match self.host.get() {
            Some(host) => host.output(stream, bytes),
            None => self.early.store(true, Ordering::Relaxed),
        }
    }
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

    fn new(engine: &Engine, component: Component, sha256: String) -> Result<Jail, LoadError> {
        let world = world::of(engine, &component)?;
        let linker = link::linker(engine, &world).map_err(|e| LoadError::Link(format!("{e:#}")))?;
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
        self.call_then(func, args, limits, host, None, |outcome| outcome)
    }

    /// [`Jail::call`] in the instance `prepared` ahead of it when it can be used (see
    /// [`Jail::prepare`]), handing the outcome to `then` before the call's instance is
    /// torn down: the runner sends its answer first, and resets the instance's memory
    /// while the host reads it.
    pub fn call_then<R>(
        &self,
        func: &str,
        args: &[Value],
        limits: &Limits,
        host: Arc<dyn Host>,
        prepared: Option<Prepared>,
        then: impl FnOnce(Result<Value, Failure>) -> R,
    ) -> R {
        let mut store = None;
        let outcome = self.run(func, args, limits, host, prepared, &mut store);
        let answer = then(outcome);
        drop(store);
        answer
    }

    /// Makes the store and instance of a next call ahead of it, under `limits`: the runner
    /// does it after answering a call, while the host reads the answer.
    ///
    /// The next call takes it only if it runs under the same limits and nothing ran in
    /// the instance before the call began (no output, no callback: an inmate whose
    /// instantiation does either gets a new instance at its call); otherwise the call
    /// makes its own. Either way, no call sees an instance that anything else used.
    pub fn prepare(&self, limits: &Limits) -> Option<Prepared> {
        let _running: Running = self.ticker.run();
        let relay = Arc::new(Relay::default());
        let mut store = self.store(limits, relay.clone()).ok()?;
        let instance = self.pre.instantiate(&mut store).ok()?;
        Some(Prepared {
            store,
            instance,
            limits: limits.clone(),
            relay,
        })
    }

    /// One call; its store is left in `slot` for the caller to drop.
    fn run(
        &self,
        func: &str,
        args: &[Value],
        limits: &Limits,
        host: Arc<dyn Host>,
        prepared: Option<Prepared>,
        slot: &mut Option<Store<State>>,
    ) -> Result<Value, Failure> {
        let Some(&(index, i)) = self.exports.get(func) else {
            let exports = self.world.export_names().join(", ");
            return Err(failure(
                FailureKind::BadCall,
                format!("the inmate has no export `{func}`; its exports are: {exports}"),
            ));
        };
        let ty = &self.world.exports[i];
        let params = params(ty, args, limits)?;

        let _running: Running = self.ticker.run();
        let usable = prepared.filter(|p| p.limits == *limits && !p.relay.used_early());
        let (store, instance) = match usable {
            Some(prepared) => {
                prepared.relay.begin(host);
                let store = slot.insert(prepared.store);
                store.data_mut().restart_deadline();
                (store, Ok(prepared.instance))
            }
            None => {
                let relay = Arc::new(Relay::default());
                relay.begin(host);
                let store = slot.insert(self.store(limits, relay)?);
                let instance = self.pre.instantiate(&mut *store);
                (store, instance)
            }
        };

        let mut results = vec![Val::Bool(false); usize::from(ty.result.is_some())];
        let outcome = instance.and_then(|instance| {
            let func = instance
                .get_func(&mut *store, index)
                .ok_or_else(|| wasmtime::format_err!("export `{func}` is not a function"))?;
            func.call(&mut *store, &params, &mut results)
        });
        if let Err(error) = outcome {
            return Err(store.data().failure(&error));
        }
        let value = match (&ty.result, results.first()) {
            (Some(ty), Some(val)) => val::from_val(ty, val),
            _ => Value::Null,
        };
        if json_len(&value) > limits.result_bytes {
            let hit = limits.hit(Limit::ResultBytes);
            return Err(Failure {
                kind: FailureKind::Limit,
                message: format!("the call's result exceeded its {hit}"),
                backtrace: Vec::new(),
                limit: Some(hit),
            });
        }
        Ok(value)
    }

    /// A fresh store and instance, dropped without calling anything: the part of every
    /// call that is not the inmate's own work. `cargo xtask bench` measures it alone.
    pub fn instantiate(&self, limits: &Limits, host: Arc<dyn Host>) -> Result<(), Failure> {
        let mut store = self.store(limits, host)?;
        match self.pre.instantiate(&mut store) {
            Ok(_instance) => Ok(()),
            Err(error) => Err(store.data().failure(&error)),
        }
    }

    /// A call's own store: its limits, its fuel, and the deadline checked at each tick.
    fn store(&self, limits: &Limits, host: Arc<dyn Host>) -> Result<Store<State>, Failure> {
        let mut store = Store::new(&self.engine, State::new(host, limits));
        store.limiter(|state| &mut state.limiter);
        store
            .set_fuel(limits.fuel.unwrap_or(u64::MAX))
            .map_err(|e| failure(FailureKind::Runner, format!("cannot set fuel: {e}")))?;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|store| {
            Ok(if store.data().past_deadline() {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Continue(1)
            })
        });
        Ok(store)
    }
}

/// The wasm values of a call's arguments, or why they cannot be.
fn params(func: &FuncType, args: &[Value], limits: &Limits) -> Result<Vec<Val>, Failure> {
    if args.len() != func.params.len() {
        let message = format!(
            "`{func}` takes {} argument(s), got {}",
            func.params.len(),
            args.len()
        );
        return Err(failure(FailureKind::BadCall, message));
    }
    if args.iter().map(json_len).sum::<u64>() > limits.argument_bytes {
        let hit = limits.hit(Limit::ArgumentBytes);
        return Err(Failure {
            kind: FailureKind::Limit,
            message: format!("the call's arguments exceed its {hit}"),
            backtrace: Vec::new(),
            limit: Some(hit),
        });
    }
    let mut params = Vec::with_capacity(args.len());
    for (i, (param, arg)) in func.params.iter().zip(args).enumerate() {
        let root = format!("args[{i}]");
        let val = val::to_val(&param.ty, arg, &Path::Root(&root))
            .map_err(|e| failure(FailureKind::BadCall, e.to_string()))?;
        params.push(val);
    }
    Ok(params)
}

/// The size of a value's JSON, counted without building it.
pub fn json_len(value: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len() as u64;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("counting cannot fail");
    count.0
}

fn failure(kind: FailureKind, message: String) -> Failure {
    Failure {
        kind,
        message,
        backtrace: Vec::new(),
        limit: None,
    }
}
