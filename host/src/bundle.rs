//! Everything that goes into a jail image, and the image's name: the sha256 of it all.
//!
//! An image holds `Dockerfile.runner`'s recipe, the static runner, and the inmate
//! precompiled for that runner's wasmtime; its labels record the artifact's sha256 (which
//! the runner verifies before loading it) and the inmate's world (which the host uses to
//! check arguments before a container exists). Hashing all of it means one name per
//! distinct image, and a rebuild with nothing changed is a lookup.

use crate::error::Error;
use crate::precompiled;
use hoosegow_wire::types::World;
use jail_runner::{Jail, engine, jail::sha256_hex};
use std::collections::BTreeMap;

/// The image recipe, kept at the repository root where a reader looks for it.
pub const DOCKERFILE: &str = include_str!("../../Dockerfile.runner");

/// Label holding the precompiled artifact's sha256.
pub const LABEL_ARTIFACT: &str = "hoosegow.artifact-sha256";
/// Label holding the inmate's world as JSON.
pub const LABEL_WORLD: &str = "hoosegow.world";

/// The contents of a jail image.
pub struct Bundle {
    runner: Vec<u8>,
    cwasm: Vec<u8>,
    world: World,
}

impl Bundle {
    /// Precompiles the component `wasm` for the runner and bundles it with the runner
    /// binary's bytes. Refuses an inmate whose world cannot be hosted.
    ///
    /// Compiling wasm to machine code takes seconds for a large component (less when
    /// [`crate::precompiled`] has it cached), so call it off an async executor's threads.
    pub fn precompile(wasm: &[u8], runner: Vec<u8>) -> Result<Bundle, Error> {
        let engine =
            engine::new(1).map_err(|e| Error::Config(format!("cannot start wasmtime: {e:#}")))?;
        let cwasm = precompiled::precompile(&engine, wasm)?;
        // Loading it as the runner will checks its world and its imports.
        let jail = Jail::load_precompiled(&engine, &cwasm, &sha256_hex(&cwasm)).map_err(|e| {
            Error::InmateRefused {
                detail: e.to_string(),
            }
        })?;
        let world = jail.world().clone();
        Ok(Bundle {
            runner,
            cwasm,
            world,
        })
    }

    /// The inmate's world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// sha256 of the precompiled artifact.
    pub fn artifact_sha256(&self) -> String {
        sha256_hex(&self.cwasm)
    }

    /// The labels the image carries.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_ARTIFACT.to_string(), self.artifact_sha256()),
            (
                LABEL_WORLD.to_string(),
                serde_json::to_string(&self.world).expect("a world serializes"),
            ),
        ])
    }

    /// `hoosegow:<sha256 of the recipe, the files and the labels>`.
    ///
    /// Each part is hashed with its length, so no two different bundles share a name by
    /// moving bytes from one part to the next.
    pub fn image_name(&self) -> String {
        let mut all = Vec::with_capacity(self.runner.len() + self.cwasm.len() + 4096);
        let mut part = |bytes: &[u8]| {
            all.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            all.extend_from_slice(bytes);
        };
        part(DOCKERFILE.as_bytes());
        part(&self.runner);
        part(&self.cwasm);
        for (key, value) in self.labels() {
            part(key.as_bytes());
            part(value.as_bytes());
        }
        format!("hoosegow:{}", sha256_hex(&all))
    }

    /// The build context: a tar of the recipe and the two files, with fixed metadata so
    /// the same bundle always makes the same bytes.
    pub fn context(&self) -> Result<Vec<u8>, Error> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, mode, bytes) in [
            ("Dockerfile", 0o644, DOCKERFILE.as_bytes()),
            ("jail-runner", 0o755, &self.runner[..]),
            ("inmate.cwasm", 0o444, &self.cwasm[..]),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(mode);
            header.set_mtime(0);
            header.set_cksum();
            tar.append_data(&mut header, path, bytes)
                .map_err(|e| Error::io("cannot write the image build context", e))?;
        }
        tar.into_inner()
            .map_err(|e| Error::io("cannot write the image build context", e))
    }
}
