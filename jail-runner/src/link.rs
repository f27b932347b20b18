//! What an inmate's imports are linked to: WASI 0.2 (with the restrictions set up in
//! [`crate::store`]), the runner's own `hoosegow:jail/log`, and callbacks forwarded to
//! the [`crate::Host`]. Nothing else is there to import.

use crate::output::Stream;
use crate::store::State;
use crate::{val, world};
use hoosegow_wire::types::{Func, World};
use hoosegow_wire::value::Path;
use std::collections::BTreeMap;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Val};

/// A linker with every import a jail provides for `world`.
pub(crate) fn linker(engine: &wasmtime::Engine, world: &World) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    define_log(&mut linker)?;
    define_callbacks(&mut linker, world)?;
    Ok(linker)
}

/// `hoosegow:jail/log`: a line on the call's stderr, counted like any other output.
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

/// Forwards every callback import to the host, grouped by interface as the linker wants.
fn define_callbacks(linker: &mut Linker<State>, world: &World) -> wasmtime::Result<()> {
    let mut by_interface: BTreeMap<Option<&str>, Vec<(&str, &Func)>> = BTreeMap::new();
    for import in &world.imports {
        let (interface, name) = match import.name.split_once('#') {
            Some((interface, name)) => (Some(interface), name),
            None => (None, import.name.as_str()),
        };
        by_interface
            .entry(interface)
            .or_default()
            .push((name, import));
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

/// One callback: count it, convert the arguments, ask the host, check and convert the
/// answer. A failure traps the inmate and is remembered for the call's error.
fn forward(
    mut store: StoreContextMut<'_, State>,
    func: &Func,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let state = store.data_mut();
    let reply = state.count_callback().and_then(|()| {
        let args = func
            .params
            .iter()
            .zip(params)
            .map(|(p, v)| val::from_val(&p.ty, v))
            .collect();
        let value = state.host.callback(&func.name, args)?;
        if let (Some(ty), Some(slot)) = (&func.result, results.first_mut()) {
            *slot = val::to_val(ty, &value, &Path::Root("reply")).map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    reply.map_err(|message| {
        let error = wasmtime::format_err!("callback `{}` failed: {message}", func.name);
        if state.callbacks <= state.limits.callbacks {
            state.callback_failure = Some((func.name.clone(), message));
        }
        error
    })
}
