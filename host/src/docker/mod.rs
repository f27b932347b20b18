//! The Docker backend: two walls. Each call runs in a fresh container of the jail image
//! (the gem's semantics), whose runner runs it in a fresh wasm instance.
//!
//! One module per Docker resource, as in bollard: [`endpoint`] (the daemon), [`image`],
//! [`container`]; and [`session`], the protocol spoken over a container's attach stream.

pub mod cell;
pub mod container;
pub mod endpoint;
pub mod image;
pub mod session;

use crate::call::CallOptions;
use crate::error::Error;
use bollard::Docker;
use cell::Cell;
use container::{ContainerSpec, Mode};
use hoosegow_wire::types::Func;
use image::ImageInfo;
use serde_json::Value;

/// Runs one call in a fresh container of `image`, and removes the container.
pub async fn call_ephemeral(
    docker: &Docker,
    image: &ImageInfo,
    spec: &ContainerSpec,
    func: &Func,
    args: Vec<Value>,
    options: &CallOptions,
) -> Result<Value, Error> {
    let mut cell = Cell::open(docker, image, spec, Mode::Ephemeral).await?;
    let result = cell.call(func, args, options).await;
    let closed = cell.close().await;
    let value = result?;
    closed?;
    Ok(value)
}
