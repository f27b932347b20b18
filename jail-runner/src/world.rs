//! What an inmate exports and imports, read from its component, and the refusal of
//! anything that cannot cross the wall.
//!
//! Exports become callable functions. Imports are WASI (provided by the runner) or
//! callbacks (forwarded to the application). Resources, streams and futures are handles to
//! state on one side of the wall and cannot be carried across, so an inmate that uses them
//! in its exports or callbacks is refused when it is built, with the offending name.

use hoosegow_wire::types::{Case, Field, Func, Param, Type, World};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{self as wt, ComponentFunc, ComponentItem};

/// Why an inmate's world cannot be hosted.
#[derive(Debug, thiserror::Error)]
#[error("`{item}` cannot be hosted: {reason}")]
pub struct WorldError {
    /// The function or interface at fault.
    pub item: String,
    /// Why.
    pub reason: String,
}

/// The runner's own log interface (`wit/jail.wit`).
pub const JAIL_LOG: &str = "hoosegow:jail/log@0.1.0";

/// Imports the runner itself provides (WASI and `hoosegow:jail`); everything else is a
/// callback.
pub fn is_provided(import: &str) -> bool {
    import.starts_with("wasi:") || import == JAIL_LOG
}

/// Reads the world of `component`.
pub fn of(engine: &Engine, component: &Component) -> Result<World, WorldError> {
    let ty = component.component_type();
    let mut world = World::default();
    for (name, item) in ty.exports(engine) {
        collect(engine, name, &item.ty, &mut world.exports)?;
    }
    for (name, item) in ty.imports(engine) {
        if !is_provided(name) {
            collect(engine, name, &item.ty, &mut world.imports)?;
        }
    }
    Ok(world)
}

/// Adds the functions of one export or import (a function, or an interface of them).
fn collect(
    engine: &Engine,
    name: &str,
    item: &ComponentItem,
    out: &mut Vec<Func>,
) -> Result<(), WorldError> {
    match item {
        ComponentItem::ComponentFunc(f) => out.push(func(name, f)?),
        ComponentItem::ComponentInstance(instance) => {
            for (member, item) in instance.exports(engine) {
                let qualified = format!("{name}#{member}");
                match &item.ty {
                    ComponentItem::ComponentFunc(f) => out.push(func(&qualified, f)?),
                    ComponentItem::Type(_) => {}
                    ComponentItem::Resource(_) => return Err(resource(&qualified)),
                    _ => {
                        return Err(unsupported(
                            &qualified,
                            "only functions and types may be in an interface",
                        ));
                    }
                }
            }
        }
        // Type exports and imports describe values; they are used through functions.
        ComponentItem::Type(_) => {}
        ComponentItem::Resource(_) => return Err(resource(name)),
        ComponentItem::CoreFunc(_) | ComponentItem::Module(_) | ComponentItem::Component(_) => {
            return Err(unsupported(
                name,
                "only functions and interfaces of functions can cross the wall",
            ));
        }
    }
    Ok(())
}

fn func(name: &str, f: &ComponentFunc) -> Result<Func, WorldError> {
    let params = f
        .params()
        .map(|(param, ty)| {
            Ok(Param {
                name: param.to_string(),
                ty: value_type(&ty).map_err(|reason| {
                    unsupported(name, &format!("parameter `{param}`: {reason}"))
                })?,
            })
        })
        .collect::<Result<_, WorldError>>()?;
    let mut results = f.results();
    let result = match results.next() {
        Some(ty) => Some(
            value_type(&ty).map_err(|reason| unsupported(name, &format!("result: {reason}")))?,
        ),
        None => None,
    };
    if results.next().is_some() {
        return Err(unsupported(name, "functions return at most one value"));
    }
    Ok(Func {
        name: name.to_string(),
        params,
        result,
    })
}

/// The wire description of a component value type, or why it cannot cross the wall.
pub fn value_type(ty: &wt::Type) -> Result<Type, String> {
    let boxed = |ty: &wt::Type| value_type(ty).map(Box::new);
    Ok(match ty {
        wt::Type::Bool => Type::Bool,
        wt::Type::S8 => Type::S8,
        wt::Type::U8 => Type::U8,
        wt::Type::S16 => Type::S16,
        wt::Type::U16 => Type::U16,
        wt::Type::S32 => Type::S32,
        wt::Type::U32 => Type::U32,
        wt::Type::S64 => Type::S64,
        wt::Type::U64 => Type::U64,
        wt::Type::Float32 => Type::F32,
        wt::Type::Float64 => Type::F64,
        wt::Type::Char => Type::Char,
        wt::Type::String => Type::String,
        wt::Type::List(list) => Type::List(boxed(&list.ty())?),
        wt::Type::Record(record) => Type::Record(
            record
                .fields()
                .map(|field| {
                    Ok(Field {
                        name: field.name.to_string(),
                        ty: value_type(&field.ty)?,
                    })
                })
                .collect::<Result<_, String>>()?,
        ),
        wt::Type::Tuple(tuple) => Type::Tuple(
            tuple
                .types()
                .map(|t| value_type(&t))
                .collect::<Result<_, _>>()?,
        ),
        wt::Type::Variant(variant) => Type::Variant(
            variant
                .cases()
                .map(|case| {
                    Ok(Case {
                        name: case.name.to_string(),
                        ty: case.ty.as_ref().map(value_type).transpose()?,
                    })
                })
                .collect::<Result<_, String>>()?,
        ),
        wt::Type::Enum(e) => Type::Enum(e.names().map(String::from).collect()),
        wt::Type::Option(option) => Type::Option(boxed(&option.ty())?),
        wt::Type::Result(result) => Type::Result {
            ok: result.ok().as_ref().map(boxed).transpose()?,
            err: result.err().as_ref().map(boxed).transpose()?,
        },
        wt::Type::Flags(flags) => Type::Flags(flags.names().map(String::from).collect()),
        wt::Type::Own(_) | wt::Type::Borrow(_) => {
            return Err(
                "resources are handles to state inside the jail and cannot cross the wall; \
                        pass plain values (records, lists, strings) instead"
                    .into(),
            );
        }
        wt::Type::Future(_) | wt::Type::Stream(_) | wt::Type::ErrorContext => {
            return Err(
                "async types (future, stream, error-context) cannot cross the wall; \
                        use callbacks to stream values to the application"
                    .into(),
            );
        }
        wt::Type::Map(_) => return Err("map types are not supported; use list<tuple<K, V>>".into()),
        wt::Type::FixedLengthList(_) => {
            return Err("fixed-length lists are not supported; use list<T> or a tuple".into());
        }
    })
}

fn resource(name: &str) -> WorldError {
    unsupported(
        name,
        "resources are handles to state inside the jail and cannot cross the wall; \
         export functions over plain values instead",
    )
}

fn unsupported(name: &str, reason: &str) -> WorldError {
    WorldError {
        item: name.to_string(),
        reason: reason.to_string(),
    }
}
