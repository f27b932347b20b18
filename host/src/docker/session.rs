//! The host's side of the protocol over a container's attach stream. This is where a call
//! crosses the wall, and where everything coming back is treated as hostile: frames are
//! bounded, every message is parsed strictly, every value is checked against the WIT
//! before the application sees it.

use crate::call::CallOptions;
use crate::docker::image::ImageInfo;
use crate::error::{Error, JailEnd, bounded};
use bollard::container::{AttachContainerResults, LogOutput};
use futures_util::{Stream, StreamExt};
use hoosegow_wire::frame::{Decoder, Frame, Kind};
use hoosegow_wire::message::{Call, Callback, Failure, Hello, PROTOCOL_VERSION, Reply};
use hoosegow_wire::types::Func;
use hoosegow_wire::value;
use serde_json::Value;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// Largest frame the host accepts from a jail.
pub const MAX_FRAME: usize = 64 << 20;
/// How long a runner may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long past its own deadline a call may take to come back (startup, transfer).
const GRACE: Duration = Duration::from_secs(5);
/// Bytes of the runner's own stderr kept to explain a failure.
const DIAGNOSTICS: usize = 4096;

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A conversation with one runner.
pub struct Session {
    output: Output,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    decoder: Decoder,
    diagnostics: Vec<u8>,
    /// What the runner said about itself.
    pub hello: Hello,
}

impl Session {
    /// Reads the runner's hello and checks it against what the image's labels promise.
    pub async fn open(attach: AttachContainerResults, image: &ImageInfo) -> Result<Session, Error> {
        let mut session = Session {
            output: attach.output,
            input: attach.input,
            decoder: Decoder::new(MAX_FRAME),
            diagnostics: Vec::new(),
            hello: Hello {
                protocol: 0,
                runner: String::new(),
                artifact_sha256: String::new(),
                world: Default::default(),
                hostname: String::new(),
            },
        };
        let frame = session.next_frame(Instant::now() + HELLO_TIMEOUT).await?;
        match frame.kind {
            Kind::Hello => {}
            Kind::Failure if frame.call == 0 => {
                let failure: Failure = parse(&frame.payload, "refusal")?;
                return Err(Error::RunnerRefused {
                    image: image.name.clone(),
                    message: bounded(failure.message),
                });
            }
            other => {
                return Err(Error::protocol(format!(
                    "expected hello, got a {other:?} frame"
                )));
            }
        }
        let hello: Hello = parse(&frame.payload, "hello")?;
        if hello.protocol != PROTOCOL_VERSION {
            return Err(Error::protocol(format!(
                "the runner in {} speaks protocol {}, this host speaks {PROTOCOL_VERSION}; rebuild the image",
                image.name, hello.protocol
            )));
        }
        if hello.artifact_sha256 != image.artifact_sha256 {
            return Err(Error::protocol(format!(
                "the runner loaded artifact {}, the image label says {}",
                hello.artifact_sha256, image.artifact_sha256
            )));
        }
        if hello.world != image.world {
            return Err(Error::protocol(
                "the runner's world differs from the image label's",
            ));
        }
        // The hostname ends up in the application's hands (`served_by`): bound it like
        // every other string from the jail (Linux allows 64 bytes).
        if hello.hostname.len() > 255 {
            return Err(Error::protocol(
                "the runner's hostname is longer than 255 bytes",
            ));
        }
        session.hello = hello;
        Ok(session)
    }

    /// Runs one call: sends it, forwards output and callbacks, returns the checked result.
    pub async fn call(
        &mut self,
        id: u32,
        func: &Func,
        args: Vec<Value>,
        options: &CallOptions,
    ) -> Result<Value, Error> {
        let call = Call {
            func: func.name.clone(),
            args,
            limits: options.limits.clone(),
        };
        let deadline = Instant::now() + Duration::from_millis(options.limits.timeout_ms) + GRACE;
        self.send(Kind::Call, id, &call, deadline).await?;
        let mut written = [0u64; 2];
        loop {
            let frame = self.next_frame(deadline).await?;
            if frame.call != id {
                return Err(Error::protocol(format!(
                    "a frame for call {} during call {id}",
                    frame.call
                )));
            }
            match frame.kind {
                Kind::Return => {
                    let value: Value = parse(&frame.payload, "result")?;
                    if let Some(ty) = &func.result {
                        value::check(ty, &value, "result")
                            .map_err(|e| Error::protocol(format!("bad result: {e}")))?;
                    } else if !value.is_null() {
                        return Err(Error::protocol("a result from a function without one"));
                    }
                    return Ok(value);
                }
                Kind::Failure => {
                    let failure: Failure = parse(&frame.payload, "failure")?;
                    return Err(Error::from_failure(&func.name, failure));
                }
                Kind::Stdout | Kind::Stderr => {
                    let stderr = frame.kind == Kind::Stderr;
                    let (count, limit) = if stderr {
                        (&mut written[1], options.limits.stderr_bytes)
                    } else {
                        (&mut written[0], options.limits.stdout_bytes)
                    };
                    *count += frame.payload.len() as u64;
                    if *count > limit {
                        return Err(Error::protocol(
                            "the jail sent more output than its limit allows",
                        ));
                    }
                    options.write(stderr, &frame.payload);
                }
                Kind::Callback => {
                    let callback: Callback = parse(&frame.payload, "callback")?;
                    let reply = answer(&self.hello, callback, options).await;
                    self.send(Kind::Reply, id, &reply, deadline).await?;
                }
                other => {
                    return Err(Error::protocol(format!(
                        "unexpected {other:?} frame during a call"
                    )));
                }
            }
        }
    }

    /// Ends the runner's stdin, which ends the runner.
    pub async fn close(mut self) {
        // A runner that does not read cannot hold this up: the container is removed next.
        let _ = tokio::time::timeout(GRACE, self.input.shutdown()).await;
    }

    /// Writes one frame, giving up at `deadline`: a runner that stops reading its input
    /// must not hold the call past its deadline.
    async fn send(
        &mut self,
        kind: Kind,
        id: u32,
        message: &impl serde::Serialize,
        deadline: Instant,
    ) -> Result<(), Error> {
        let payload = serde_json::to_vec(message).expect("wire messages serialize");
        let bytes = Frame::new(kind, id, payload).encode();
        let write = async {
            self.input.write_all(&bytes).await?;
            self.input.flush().await
        };
        match tokio::time::timeout_at(deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.ended(&format!("the jail stopped reading its input ({e})"))),
            Err(_) => {
                let mut error =
                    self.ended("the jail stopped reading its input before the call's deadline");
                if let Error::JailEnded { cause, .. } = &mut error {
                    *cause = JailEnd::Unresponsive;
                }
                Err(error)
            }
        }
    }

    async fn next_frame(&mut self, deadline: Instant) -> Result<Frame, Error> {
        loop {
            if let Some(frame) = self
                .decoder
                .next_frame()
                .map_err(|e| Error::protocol(e.to_string()))?
            {
                return Ok(frame);
            }
            let chunk = match tokio::time::timeout_at(deadline, self.output.next()).await {
                Err(_) => {
                    let mut error = self.ended("no answer before the call's deadline");
                    if let Error::JailEnded { cause, .. } = &mut error {
                        *cause = JailEnd::Unresponsive;
                    }
                    return Err(error);
                }
                Ok(None) => return Err(self.ended("the jail ended before answering")),
                Ok(Some(Err(e))) => {
                    return Err(self.ended(&format!("the attach stream failed ({e})")));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            match chunk {
                LogOutput::StdOut { message } => self.decoder.push(&message),
                LogOutput::StdErr { message } => {
                    self.diagnostics.extend_from_slice(&message);
                    let excess = self.diagnostics.len().saturating_sub(DIAGNOSTICS);
                    self.diagnostics.drain(..excess);
                }
                _ => {}
            }
        }
    }

    /// An error for a jail that went away, with what its runner last said on stderr.
    fn ended(&self, what: &str) -> Error {
        let said = String::from_utf8_lossy(&self.diagnostics);
        let said = said.trim();
        Error::JailEnded {
            cause: JailEnd::Unknown,
            detail: if said.is_empty() {
                what.to_string()
            } else {
                format!("{what}; the runner said: {said}")
            },
        }
    }
}

/// Checks a callback against the world's import, runs the application's handler, and
/// checks its answer.
async fn answer(hello: &Hello, callback: Callback, options: &CallOptions) -> Reply {
    let Some(import) = hello.world.import(&callback.name) else {
        return Reply::Err(format!(
            "`{}` is not an import of this inmate",
            callback.name
        ));
    };
    if callback.args.len() != import.params.len() {
        return Reply::Err(format!(
            "`{import}` called with {} arguments",
            callback.args.len()
        ));
    }
    for (i, (param, arg)) in import.params.iter().zip(&callback.args).enumerate() {
        if let Err(e) = value::check(&param.ty, arg, &format!("args[{i}]")) {
            return Reply::Err(format!(
                "callback `{}` called with a bad value: {e}",
                callback.name
            ));
        }
    }
    match options.answer(&callback.name, callback.args).await {
        Ok(value) => match &import.result {
            Some(ty) => match value::check(ty, &value, "reply") {
                Ok(()) => Reply::Ok(value),
                Err(e) => Reply::Err(format!(
                    "the handler for `{}` returned a bad value: {e}",
                    callback.name
                )),
            },
            None => Reply::Ok(Value::Null),
        },
        Err(message) => Reply::Err(message),
    }
}

fn parse<T: serde::de::DeserializeOwned>(payload: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(payload).map_err(|e| Error::protocol(format!("bad {what} frame: {e}")))
}
