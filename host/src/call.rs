//! What a call needs from the application besides its arguments: where the inmate's
//! output goes, who answers its callbacks, and its limits.

use futures_util::future::BoxFuture;
use hoosegow_wire::message::Limits;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A callback handler: takes the import's arguments as JSON, returns its result as JSON
/// (`null` for an import without a result) or an error message for the inmate's trap.
pub type Handler =
    Arc<dyn Fn(Vec<Value>) -> BoxFuture<'static, Result<Value, String>> + Send + Sync>;

/// A shared writer for an inmate output stream.
pub type Writer = Arc<Mutex<dyn Write + Send>>;

/// Per-call settings. A jail has defaults (from its builder); [`crate::Hoosegow::call_with`]
/// takes a modified copy.
///
/// ```
/// use hoosegow::{CallOptions, Limits};
/// use std::sync::{Arc, Mutex};
///
/// let captured = Arc::new(Mutex::new(Vec::<u8>::new()));
/// let options = CallOptions::default()
///     .stdout(captured.clone())
///     .limits(Limits { timeout_ms: 500, ..Limits::default() })
///     .callback("progress", |args| async move {
///         println!("progress: {args:?}");
///         Ok(serde_json::Value::Null)
///     });
/// assert_eq!(options.get_limits().timeout_ms, 500);
/// ```
#[derive(Clone)]
pub struct CallOptions {
    pub(crate) stdout: Writer,
    pub(crate) stderr: Writer,
    pub(crate) callbacks: HashMap<String, Handler>,
    pub(crate) limits: Limits,
}

impl Default for CallOptions {
    /// Output to the host process's own stdout and stderr, no callbacks, default limits.
    fn default() -> CallOptions {
        CallOptions {
            stdout: Arc::new(Mutex::new(std::io::stdout())),
            stderr: Arc::new(Mutex::new(std::io::stderr())),
            callbacks: HashMap::new(),
            limits: Limits::default(),
        }
    }
}

impl CallOptions {
    /// Sends the inmate's stdout to `writer`.
    pub fn stdout<W: Write + Send + 'static>(mut self, writer: Arc<Mutex<W>>) -> Self {
        self.stdout = writer;
        self
    }

    /// Sends the inmate's stderr to `writer`.
    pub fn stderr<W: Write + Send + 'static>(mut self, writer: Arc<Mutex<W>>) -> Self {
        self.stderr = writer;
        self
    }

    /// Answers the inmate's import `name` with `handler`.
    pub fn callback<F, Fut>(mut self, name: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        self.callbacks
            .insert(name.into(), Arc::new(move |args| Box::pin(handler(args))));
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn get_limits(&self) -> &Limits {
        &self.limits
    }

    /// Writes inmate output to the stream's writer. A failing writer loses that output
    /// but does not fail the call: the application chose the writer.
    pub(crate) fn write(&self, stderr: bool, bytes: &[u8]) {
        let writer = if stderr { &self.stderr } else { &self.stdout };
        let mut writer = writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writer.write_all(bytes).and_then(|()| writer.flush());
    }

    /// Runs the handler for callback `name`.
    pub(crate) async fn answer(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        match self.callbacks.get(name) {
            Some(handler) => handler(args).await,
            None => Err(format!(
                "the application registered no handler for callback `{name}`"
            )),
        }
    }
}
