//! The library's error type: each case says what went wrong and what to do about it.

use hoosegow_wire::message::{Failure, FailureKind, LimitHit};
use hoosegow_wire::value::ValueError;
use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in Hoosegow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No Docker daemon answered at the endpoint.
    #[error("cannot reach the Docker daemon at {endpoint}: {reason}. {}", unreachable_advice(.reason))]
    DockerUnreachable {
        /// The endpoint tried.
        endpoint: String,
        /// What the connection attempt said.
        reason: String,
    },

    /// Docker answered but refused a request.
    #[error("Docker could not {action}: {reason}")]
    Docker {
        /// What Hoosegow asked of it.
        action: String,
        /// Docker's answer.
        reason: String,
    },

    /// The jail's image does not exist.
    #[error(
        "image {image} does not exist. Build it first: `cargo xtask build-inmate <dir>`, or call \
         `Hoosegow::build_image` on a jail built with `inmate_dir`"
    )]
    ImageMissing {
        /// The image name.
        image: String,
    },

    /// The image exists but was not built by Hoosegow (it lacks the labels a jail needs).
    #[error(
        "image {image} is not a Hoosegow jail image ({reason}); build it with `cargo xtask build-inmate <dir>`"
    )]
    NotAJailImage {
        /// The image name.
        image: String,
        /// What is missing or wrong.
        reason: String,
    },

    /// The runner in the image refused to start, e.g. because its artifact does not match
    /// the image label (the image was tampered with after it was built).
    #[error("the runner in {image} refused to start: {message}")]
    RunnerRefused {
        /// The image.
        image: String,
        /// The runner's reason.
        message: String,
    },

    /// The jail's container died or went silent mid-call: killed, out of memory, crashed,
    /// hung. Its container is removed; the next call gets a fresh one.
    #[error("the jail ended during the call ({cause}): {detail}")]
    JailEnded {
        /// What happened to the container, as far as Docker knows.
        cause: JailEnd,
        /// What was seen on the way (the runner's last words, the stream's end).
        detail: String,
    },

    /// Docker failed to build the image.
    #[error("building image {image} failed: {detail}")]
    ImageBuild {
        /// The image being built.
        image: String,
        /// Docker's error detail.
        detail: String,
    },

    /// The inmate's source could not be compiled to a component.
    #[error("building the inmate in {dir} failed: {detail}")]
    InmateBuild {
        /// The inmate folder.
        dir: PathBuf,
        /// What the toolchain said, or what to install.
        detail: String,
    },

    /// The inmate compiled, but cannot be hosted (e.g. it uses resources, or imports
    /// something a jail does not provide).
    #[error("the inmate cannot be hosted: {detail}")]
    InmateRefused {
        /// Why.
        detail: String,
    },

    /// Every container of a pooled jail stayed busy for as long as a caller may wait.
    #[error(
        "all {size} containers of the pool stayed busy for {waited:?}; make the pool bigger, \
         the queue timeout longer, or the calls shorter"
    )]
    PoolBusy {
        /// The pool's size.
        size: usize,
        /// How long the caller waited.
        waited: std::time::Duration,
    },

    /// The jail was configured in a way that cannot work.
    #[error("{0}")]
    Config(String),

    /// The called function is not an export of the inmate.
    #[error("the inmate has no export `{name}`; its exports are: {}", .exports.join(", "))]
    UnknownFunction {
        /// The name asked for.
        name: String,
        /// The inmate's exports.
        exports: Vec<String>,
    },

    /// The number of arguments does not match the export's signature.
    #[error("`{signature}` takes {expected} argument(s), got {got}")]
    ArgumentCount {
        /// The export's WIT signature.
        signature: String,
        /// Parameters it takes.
        expected: usize,
        /// Arguments given.
        got: usize,
    },

    /// An argument does not match its WIT type; nothing was sent.
    #[error("bad argument to `{func}`: {error}")]
    BadArgument {
        /// The export called.
        func: String,
        /// Where and how the value is wrong.
        error: ValueError,
    },

    /// The inmate failed: a trap, a panic, or a failed callback.
    #[error(transparent)]
    Inmate(#[from] InmateError),

    /// The call ran into one of its limits (see [`crate::Limits`]). The jail is unharmed
    /// and the next call runs.
    #[error("inmate call `{func}` exceeded its {hit}")]
    LimitExceeded {
        /// The export that was called.
        func: String,
        /// Which limit, and its value.
        hit: LimitHit,
        /// Where the inmate was, if it was running wasm.
        backtrace: Vec<String>,
    },

    /// What came out of the jail is not what the protocol or the WIT allows. The jail is
    /// not trusted; this is how its misbehaviour surfaces.
    #[error("the jail broke the protocol: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
    },

    /// Local I/O failed (reading the runner binary, writing output).
    #[error("{context}: {source}")]
    Io {
        /// What Hoosegow was doing.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// An inmate's failure, in the shape of the gem's `InmateRuntimeError`: a class (the
/// [`FailureKind`]), a message and a backtrace.
#[derive(Debug, Clone, PartialEq)]
pub struct InmateError {
    /// The export that was called.
    pub func: String,
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
    /// The wasm backtrace, innermost frame first.
    pub backtrace: Vec<String>,
}

impl InmateError {
    /// The gem's class name for this kind of failure.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FailureKind::Trap => "Trap",
            FailureKind::Panic => "Panic",
            FailureKind::Limit => "LimitExceeded",
            FailureKind::Callback => "CallbackError",
            FailureKind::BadCall => "BadCall",
            FailureKind::Runner => "RunnerError",
        }
    }
}

impl fmt::Display for InmateError {
    /// `Class: message` and the backtrace, one frame a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "inmate call `{}` failed: {}: {}",
            self.func,
            self.class(),
            self.message
        )?;
        for line in &self.backtrace {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InmateError {}

/// How a jail's container ended when it should not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JailEnd {
    /// The kernel killed it at its memory limit.
    OutOfMemory,
    /// It was killed (SIGKILL from outside, e.g. `docker kill`).
    Killed,
    /// Its runner exited with this code.
    Exited(i64),
    /// It did not answer in time; Hoosegow gave up on it and removed it.
    Unresponsive,
    /// Docker could not say.
    Unknown,
}

impl fmt::Display for JailEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JailEnd::OutOfMemory => {
                f.write_str("out of memory: the container was OOM-killed at its memory limit")
            }
            JailEnd::Killed => f.write_str("the container was killed"),
            JailEnd::Exited(code) => write!(f, "the runner exited with code {code}"),
            JailEnd::Unresponsive => f.write_str("the jail did not answer in time and was removed"),
            JailEnd::Unknown => f.write_str("the container went away"),
        }
    }
}

/// Longest failure message or backtrace line kept from a jail, and most frames.
const MAX_MESSAGE: usize = 64 * 1024;
const MAX_BACKTRACE: usize = 100;

impl Error {
    /// The error for an inmate's failure reported by a runner (in a container or in
    /// process). Messages are bounded: they may come from a hostile jail.
    pub(crate) fn from_failure(func: &str, failure: Failure) -> Error {
        let backtrace = failure
            .backtrace
            .into_iter()
            .take(MAX_BACKTRACE)
            .map(bounded)
            .collect();
        match (failure.kind, failure.limit) {
            (FailureKind::Limit, Some(hit)) => Error::LimitExceeded {
                func: func.to_string(),
                hit,
                backtrace,
            },
            (kind, _) => Error::Inmate(InmateError {
                func: func.to_string(),
                kind,
                message: bounded(failure.message),
                backtrace,
            }),
        }
    }

    pub(crate) fn docker(action: impl Into<String>, error: bollard::errors::Error) -> Error {
        Error::Docker {
            action: action.into(),
            reason: docker_reason(&error),
        }
    }

    pub(crate) fn protocol(detail: impl Into<String>) -> Error {
        Error::Protocol {
            detail: detail.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// What to do about a daemon that could not be reached, from what the attempt said.
fn unreachable_advice(reason: &str) -> &'static str {
    let tls = [
        "certificate",
        "UnknownCA",
        "UnknownIssuer",
        "BadCertificate",
        "alert",
    ];
    if tls.iter().any(|word| reason.contains(word)) {
        "The TLS handshake failed: the certificate directory's ca.pem must have signed the \
         daemon's certificate, and the daemon must trust cert.pem (the DOCKER_CERT_PATH \
         layout: ca.pem, cert.pem, key.pem)"
    } else {
        "Start Docker (`dockerd`, or `sudo systemctl start docker`) or point DOCKER_HOST at a \
         daemon that answers; to develop without Docker, choose the in-process backend (one \
         wall instead of two)"
    }
}

/// Docker's own message where it sent one, rather than bollard's wrapper text; otherwise
/// the error with every cause down its chain.
pub(crate) fn docker_reason(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            format!("{message} (HTTP {status_code})")
        }
        // hyper says only "client error (Connect)": the cause (refused, no such file, a
        // certificate the other side does not trust) is further down the chain.
        other => {
            let mut reason = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                let said = cause.to_string();
                if !reason.contains(&said) {
                    reason.push_str(": ");
                    reason.push_str(&said);
                }
                source = cause.source();
            }
            reason
        }
    }
}

/// At most [`MAX_MESSAGE`] bytes of `text`.
pub(crate) fn bounded(mut text: String) -> String {
    if text.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}
