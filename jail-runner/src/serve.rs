//! The runner's side of the protocol: [`Hello`], then calls until stdin ends.
//!
//! One call runs at a time. While it runs, the inmate's output goes out as stdout/stderr
//! frames and each callback as a frame whose [`Reply`] is read before the inmate goes on.
//! Anything the host sends that does not fit this order ends the session: the runner
//! trusts no frame it reads.

use crate::jail::{Host, Jail, Prepared};
use crate::output::Stream;
use hoosegow_wire::frame::{self, Frame, Kind};
use hoosegow_wire::message::{
    Call, Callback, Failure, FailureKind, Hello, Limits, PROTOCOL_VERSION, Reply,
};
use serde_json::Value;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

/// Largest frame the runner accepts from the host, unless told otherwise.
pub const DEFAULT_MAX_FRAME: usize = 64 << 20;

/// Serves `jail` on `input`/`output` until `input` ends.
pub fn serve<R, W>(
    jail: &Jail,
    hostname: String,
    input: R,
    output: W,
    max_frame: usize,
) -> io::Result<()>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let wire = Arc::new(Wire {
        input: Mutex::new(Box::new(input)),
        output: Mutex::new(Box::new(output)),
        max_frame,
    });
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        runner: env!("CARGO_PKG_VERSION").to_string(),
        artifact_sha256: jail.artifact_sha256().to_string(),
        world: jail.world().clone(),
        hostname,
    };
    // The instance of the next call: the first made before the hello (so that a started
    // container is ready in full), each later one while the host reads an answer.
    let mut next: Option<Prepared> = jail.prepare(&Limits::default());
    wire.send(Kind::Hello, 0, &json(&hello))?;
    while let Some(frame) = wire.receive()? {
        if frame.kind != Kind::Call {
            return Err(protocol(format!(
                "expected a call, got a {:?} frame",
                frame.kind
            )));
        }
        let call: Call = serde_json::from_slice(&frame.payload)
            .map_err(|e| protocol(format!("bad call: {e}")))?;
        let host = Arc::new(FrameHost {
            wire: wire.clone(),
            call: frame.call,
            broken: Mutex::new(None),
        });
        // The answer goes out before the instance is torn down (see `Jail::call_then`).
        let answered = jail.call_then(
            &call.func,
            &call.args,
            &call.limits,
            host.clone(),
            next.take(),
            |result| {
                if let Some(error) = host.broken.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    return Err(error);
                }
                match result {
                    Ok(value) => wire.send(Kind::Return, frame.call, &json(&value)),
                    Err(failure) => wire.send(Kind::Failure, frame.call, &json(&failure)),
                }
            },
        );
        answered?;
        next = jail.prepare(&call.limits);
    }
    Ok(())
}

/// Tells the host that the runner cannot serve at all (call 0), e.g. a bad artifact.
pub fn refuse(output: &mut impl Write, message: String) -> io::Result<()> {
    let failure = Failure {
        kind: FailureKind::Runner,
        message,
        backtrace: Vec::new(),
        limit: None,
    };
    frame::write(output, &Frame::new(Kind::Failure, 0, json(&failure)))
}

struct Wire {
    input: Mutex<Box<dyn Read + Send>>,
    output: Mutex<Box<dyn Write + Send>>,
    max_frame: usize,
}

impl Wire {
    fn send(&self, kind: Kind, call: u32, payload: &[u8]) -> io::Result<()> {
        let frame = Frame::new(kind, call, payload.to_vec());
        frame::write(
            &mut *self.output.lock().unwrap_or_else(|e| e.into_inner()),
            &frame,
        )
    }

    fn receive(&self) -> io::Result<Option<Frame>> {
        frame::read(
            &mut *self.input.lock().unwrap_or_else(|e| e.into_inner()),
            self.max_frame,
        )
    }
}

/// The [`Host`] for a call served over frames.
struct FrameHost {
    wire: Arc<Wire>,
    call: u32,
    /// The first I/O or protocol error during the call: the session ends after it.
    broken: Mutex<Option<io::Error>>,
}

impl FrameHost {
    fn remember(&self, error: io::Error) -> String {
        let message = error.to_string();
        self.broken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(error);
        message
    }

    fn ask(&self, name: &str, args: Vec<Value>) -> io::Result<Result<Value, String>> {
        let request = Callback {
            name: name.to_string(),
            args,
        };
        self.wire.send(Kind::Callback, self.call, &json(&request))?;
        let frame = self
            .wire
            .receive()?
            .ok_or_else(|| protocol("stdin ended while a callback waited for its reply".into()))?;
        if frame.kind != Kind::Reply || frame.call != self.call {
            return Err(protocol(format!(
                "expected the reply to callback `{name}`, got a {:?} frame for call {}",
                frame.kind, frame.call
            )));
        }
        let reply: Reply = serde_json::from_slice(&frame.payload)
            .map_err(|e| protocol(format!("bad reply: {e}")))?;
        Ok(match reply {
            Reply::Ok(value) => Ok(value),
            Reply::Err(message) => Err(message),
        })
    }
}

impl Host for FrameHost {
    fn callback(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        self.ask(name, args)
            .unwrap_or_else(|e| Err(self.remember(e)))
    }

    fn output(&self, stream: Stream, bytes: &[u8]) {
        let kind = match stream {
            Stream::Stdout => Kind::Stdout,
            Stream::Stderr => Kind::Stderr,
        };
        if let Err(e) = self.wire.send(kind, self.call, bytes) {
            self.remember(e);
        }
    }
}

fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("wire messages serialize")
}

fn protocol(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
