//! The inmate's stdout and stderr: each write is counted against the call's allowance and
//! handed to the [`Host`] at once, so output streams while the call runs.
//!
//! Past its allowance a stream traps the inmate: silently dropping output would hide a
//! flood, and a flood is exactly what the allowance exists to stop.

use crate::jail::Host;
use crate::store::Breach;
use bytes::Bytes;
use hoosegow_wire::message::{Limit, LimitHit, Limits};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Which output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The inmate's stdout.
    Stdout,
    /// The inmate's stderr.
    Stderr,
}

/// Bytes of stderr kept to explain a trap (a panic message is written there first).
const STDERR_TAIL: usize = 4096;

/// Both streams of one call.
pub(crate) struct Output {
    host: Arc<dyn Host>,
    limits: [LimitHit; 2],
    written: [AtomicU64; 2],
    breach: Arc<Breach>,
    stderr_tail: Mutex<Vec<u8>>,
}

impl Output {
    pub(crate) fn new(host: Arc<dyn Host>, limits: &Limits, breach: Arc<Breach>) -> Arc<Output> {
        Arc::new(Output {
            host,
            limits: [limits.hit(Limit::Stdout), limits.hit(Limit::Stderr)],
            written: Default::default(),
            breach,
            stderr_tail: Mutex::new(Vec::new()),
        })
    }

    /// A WASI stream writing to `stream`.
    pub(crate) fn sink(self: &Arc<Self>, stream: Stream) -> Sink {
        Sink {
            output: self.clone(),
            stream,
        }
    }

    /// Counts `bytes` against `stream`'s allowance and hands them to the host.
    pub(crate) fn write(&self, stream: Stream, bytes: &[u8]) -> Result<(), String> {
        let i = stream as usize;
        let before = self.written[i].fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if before + bytes.len() as u64 > self.limits[i].value {
            self.breach.record(self.limits[i]);
            return Err(format!("{} exceeded", self.limits[i]));
        }
        if stream == Stream::Stderr {
            let mut tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
            tail.extend_from_slice(bytes);
            let excess = tail.len().saturating_sub(STDERR_TAIL);
            tail.drain(..excess);
        }
        self.host.output(stream, bytes);
        Ok(())
    }

    /// The panic message the inmate's runtime wrote to stderr, if it wrote one: Rust's
    /// `thread '…' panicked at FILE:LINE:COL:\nMESSAGE\nnote: …`, as `MESSAGE (at FILE:LINE:COL)`.
    pub(crate) fn panic_message(&self) -> Option<String> {
        let tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&tail);
        let start = text.rfind("panicked at ")? + "panicked at ".len();
        let rest = &text[start..];
        let (location, message) = rest.split_once(":\n").unwrap_or((rest, ""));
        let message = message
            .split("\nnote: ")
            .next()
            .unwrap_or_default()
            .trim_end();
        Some(format!("{message} (at {location})"))
    }
}

/// One output stream as WASI sees it.
#[derive(Clone)]
pub(crate) struct Sink {
    output: Arc<Output>,
    stream: Stream,
}

impl IsTerminal for Sink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Sink {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Sink {
    async fn ready(&mut self) {}
}

impl OutputStream for Sink {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.output
            .write(self.stream, &bytes)
            .map_err(|e| StreamError::trap(&e))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.output
                .write(self.stream, buf)
                .map(|()| buf.len())
                .map_err(io::Error::other),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
