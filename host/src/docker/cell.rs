//! A cell: one jail container, started, with its runner's hello received, ready to serve
//! calls. Ephemeral mode uses a cell for one call; pooled mode for many.

use crate::call::CallOptions;
use crate::docker::container::{Container, ContainerInfo, ContainerSpec, Mode};
use crate::docker::image::ImageInfo;
use crate::docker::session::Session;
use crate::error::{Error, JailEnd};
use bollard::Docker;
use hoosegow_wire::types::Func;
use serde_json::Value;

/// A started jail container and the session with its runner.
pub struct Cell {
    container: Container,
    session: Session,
    info: ContainerInfo,
    spec: ContainerSpec,
    calls: u32,
}

impl Cell {
    /// Creates, attaches to and starts a container of `image`, and waits for its runner's
    /// hello. A failure on the way removes the container.
    pub async fn open(
        docker: &Docker,
        image: &ImageInfo,
        spec: &ContainerSpec,
        mode: Mode,
    ) -> Result<Cell, Error> {
        let container = Container::create(docker, &spec.body(image, mode)?, &image.name).await?;
        let info = ContainerInfo {
            id: container.id().to_string(),
            image: image.name.clone(),
            mode,
        };
        spec.hooks.after_create(&info);
        let opened = async {
            let attach = container.attach().await?;
            container.start().await?;
            spec.hooks.after_start(&info);
            Session::open(attach, image).await
        }
        .await;
        match opened {
            Ok(session) => Ok(Cell {
                container,
                session,
                info,
                spec: spec.clone(),
                calls: 0,
            }),
            Err(error) => {
                let error = explain(&container, error).await;
                let _ = container.remove().await;
                spec.hooks.after_stop(&info);
                Err(error)
            }
        }
    }

    /// The hostname the runner announced: the container's short id.
    pub fn served_by(&self) -> &str {
        &self.session.hello.hostname
    }

    /// Calls served so far.
    pub fn calls(&self) -> u32 {
        self.calls
    }

    /// Runs one call. After an error the cell must be closed, not reused.
    pub async fn call(
        &mut self,
        func: &Func,
        args: Vec<Value>,
        options: &CallOptions,
    ) -> Result<Value, Error> {
        self.calls += 1;
        let result = self.session.call(self.calls, func, args, options).await;
        match result {
            Err(error) => Err(explain(&self.container, error).await),
            ok => ok,
        }
    }

    /// Ends the runner's input and removes the container.
    pub async fn close(self) -> Result<(), Error> {
        self.session.close().await;
        let removed = self.container.remove().await;
        self.spec.hooks.after_stop(&self.info);
        removed
    }
}

/// For a jail that went away, asks Docker how, while the container still exists.
async fn explain(container: &Container, error: Error) -> Error {
    match error {
        Error::JailEnded {
            cause: JailEnd::Unknown,
            detail,
        } => Error::JailEnded {
            cause: container.end().await,
            detail,
        },
        other => other,
    }
}
