//! WebAssembly text inmates: one `*.wat` file, parsed here with no toolchain. Either a
//! core module written by hand against the canonical ABI of the folder's world (its
//! exports named as the world names them), given the world's metadata and made a
//! component; or a whole component in the component model's text format, taken as it is.
//!
//! For inmates that do what no compiler emits on request, such as growing a table
//! without end, or exporting what cannot cross the wall: the test suite's probes.

use super::{failed, files_in, world};
use crate::error::Error;
use std::path::Path;
use wit_component::StringEncoding;

/// Parses the `*.wat` file in `dir`; a core module gets its world embedded and becomes a component.
pub(super) fn compile(dir: &Path) -> Result<Vec<u8>, Error> {
    let sources: Vec<_> = files_in(dir)?
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "wat"))
        .collect();
    let [source] = sources.as_slice() else {
        return Err(failed(dir, "expected exactly one *.wat module"));
    };
    let mut core = wat::parse_file(source).map_err(|e| failed(dir, format!("{e}")))?;
    if wasmparser::Parser::is_component(&core) {
        return Ok(core);
    }
    let (resolve, world) = world(dir)?;
    wit_component::embed_component_metadata(&mut core, &resolve, world, StringEncoding::UTF8)
        .map_err(|e| failed(dir, format!("cannot embed the world: {e:#}")))?;
    super::c::componentize(&core)
        .map_err(|e| failed(dir, format!("cannot make the module a component: {e:#}")))
}
