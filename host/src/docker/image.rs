//! Jail images: whether one exists, what its labels say, and building one.

use crate::bundle::{Bundle, LABEL_ARTIFACT, LABEL_WORLD};
use crate::error::Error;
use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;
use hoosegow_wire::types::World;
use std::collections::HashMap;

/// What the host needs to know of a jail image before running it.
#[derive(Clone, Debug)]
pub struct ImageInfo {
    /// The image name.
    pub name: String,
    /// sha256 of the precompiled inmate in it, from its label.
    pub artifact_sha256: String,
    /// The inmate's world, from its label.
    pub world: World,
}

/// Reads a jail image's labels; `Ok(None)` if the image does not exist.
pub async fn inspect(docker: &Docker, name: &str) -> Result<Option<ImageInfo>, Error> {
    let image = match docker.inspect_image(name).await {
        Ok(image) => image,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => return Ok(None),
        Err(e) => return Err(Error::docker(format!("inspect image {name}"), e)),
    };
    let labels = image.config.and_then(|c| c.labels).unwrap_or_default();
    let not_a_jail = |reason: String| Error::NotAJailImage {
        image: name.to_string(),
        reason,
    };
    let artifact_sha256 = labels
        .get(LABEL_ARTIFACT)
        .filter(|sha| sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| not_a_jail(format!("no valid {LABEL_ARTIFACT} label")))?
        .clone();
    let world = labels
        .get(LABEL_WORLD)
        .ok_or_else(|| not_a_jail(format!("no {LABEL_WORLD} label")))?;
    let world = serde_json::from_str(world)
        .map_err(|e| not_a_jail(format!("bad {LABEL_WORLD} label: {e}")))?;
    Ok(Some(ImageInfo {
        name: name.to_string(),
        artifact_sha256,
        world,
    }))
}

/// Builds `bundle` as image `name`, passing each line of Docker's output to `progress`.
pub async fn build(
    docker: &Docker,
    bundle: &Bundle,
    name: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), Error> {
    let labels: HashMap<String, String> = bundle.labels().into_iter().collect();
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(name)
        .labels(&labels)
        .rm(true)
        .forcerm(true)
        .build();
    let context = bundle.context()?;
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let failed = |detail: String| Error::ImageBuild {
        image: name.to_string(),
        detail,
    };
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| match e {
            // A failed step: bollard lifts the stream's `errorDetail` into this error.
            bollard::errors::Error::DockerStreamError { error } => failed(error),
            e => failed(crate::error::docker_reason(&e)),
        })?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            return Err(failed(detail));
        }
        if let Some(line) = info.stream {
            for line in line.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                progress(line);
            }
        }
    }
    // A build that ends without an error but without the image is still a failure.
    match inspect(docker, name).await? {
        Some(_) => Ok(()),
        None => Err(failed(
            "Docker reported no error, but the image does not exist".into(),
        )),
    }
}
