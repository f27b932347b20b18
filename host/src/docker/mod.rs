//! The Docker backend: two walls. Each call runs in a fresh container of the jail image
//! (the gem's semantics), whose runner runs it in a fresh wasm instance.
//!
//! One module per Docker resource, as in bollard: [`endpoint`] (the daemon), [`image`],
//! [`container`]; and [`session`], the protocol spoken over a container's attach stream.

pub mod container;
pub mod endpoint;
pub mod image;
pub mod session;

use crate::call::CallOptions;
use crate::error::{Error, JailEnd};
use bollard::Docker;
use container::{Container, ContainerLimits};
use hoosegow_wire::types::Func;
use image::ImageInfo;
use serde_json::Value;
use session::Session;

/// Runs one call in a fresh container of `image`, and removes the container.
pub async fn call_ephemeral(
    docker: &Docker,
    image: &ImageInfo,
    limits: &ContainerLimits,
    func: &Func,
    args: Vec<Value>,
    options: &CallOptions,
) -> Result<Value, Error> {
    let container = Container::create(docker, image, limits).await?;
    let outcome = async {
        let attach = container.attach().await?;
        container.start().await?;
        let mut session = Session::open(attach, image).await?;
        let result = session.call(1, func, args, options).await;
        session.close().await;
        result
    }
    .await;
    // A jail that went away: ask Docker how, before the container is gone.
    let outcome = match outcome {
        Err(Error::JailEnded {
            cause: JailEnd::Unknown,
            detail,
        }) => Err(Error::JailEnded {
            cause: container.end().await,
            detail,
        }),
        other => other,
    };
    let removed = container.remove().await;
    let value = outcome?;
    removed?;
    Ok(value)
}
