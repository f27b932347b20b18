//! `hoosegow`: call an inmate from the command line.
//!
//! ```text
//! hoosegow call --image IMAGE FUNC [JSON-ARG...]
//! hoosegow call --in-process --inmate DIR FUNC [JSON-ARG...]
//! hoosegow prune [--all]
//! ```
//!
//! Prints the JSON result on stdout. Exit status: 0 on success, 1 when the inmate failed,
//! 2 when the input or the setup is wrong (with a message that says what to do).
//!
//! Callbacks: one without a result is printed as a JSON line on stderr
//! (`{"callback":"progress","args":[1,3]}`) and the call goes on; one with a result takes
//! its value from `--reply NAME=JSON`, and fails the call (saying so) without one.

use clap::{Parser, Subcommand};
use hoosegow::{CallOptions, Endpoint, Error, Hoosegow, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hoosegow",
    version,
    about = "Typed, double-walled jails for untrusted code"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call an export of an inmate and print its JSON result.
    Call(CallArgs),
    /// Remove jail containers left behind by processes that are gone.
    Prune {
        /// Remove every jail container, also those of running processes.
        #[arg(long)]
        all: bool,
    },
}

#[derive(clap::Args)]
struct CallArgs {
    /// The jail image to run (as printed by `cargo xtask build-inmate`).
    #[arg(
        long,
        required_unless_present = "in_process",
        conflicts_with = "in_process"
    )]
    image: Option<String>,
    /// Run in this process instead of Docker: one wall instead of two (development only).
    #[arg(long, requires = "inmate")]
    in_process: bool,
    /// The inmate's folder (with --in-process).
    #[arg(long)]
    inmate: Option<PathBuf>,
    /// The Docker daemon's Unix socket (default: DOCKER_HOST, else /var/run/docker.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The call's deadline in milliseconds (default 10000).
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// The answer to a callback that returns a value, as NAME=JSON (repeatable).
    #[arg(long = "reply", value_name = "NAME=JSON")]
    replies: Vec<String>,
    /// The export to call.
    func: String,
    /// Arguments, one JSON value each: strings need quotes, e.g. '"foobar"'.
    args: Vec<String>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOOSEGOW_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hoosegow: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("hoosegow: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Jail(error)) => {
            eprintln!("hoosegow: {error}");
            ExitCode::from(exit_code(&error))
        }
    }
}

enum Failure {
    Usage(String),
    Jail(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Jail(error)
    }
}

/// 1 when the inmate (or its jail) failed, 2 when what the user gave or set up is wrong.
fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Inmate(_)
        | Error::LimitExceeded { .. }
        | Error::JailEnded { .. }
        | Error::Protocol { .. }
        | Error::RunnerRefused { .. } => 1,
        _ => 2,
    }
}

async fn run(cli: Cli) -> Result<Value, Failure> {
    let call = match cli.command {
        Command::Call(call) => call,
        Command::Prune { all } => {
            let docker = Endpoint::Default.connect().await?;
            let removed = hoosegow::docker::prune::prune(&docker, all).await?;
            return Ok(Value::from(removed));
        }
    };
    let mut args = Vec::with_capacity(call.args.len());
    for (i, arg) in call.args.iter().enumerate() {
        let value = serde_json::from_str(arg).map_err(|e| {
            Failure::Usage(format!(
                "argument {} ({arg}) is not JSON: {e}. Give each argument as a JSON value; \
                 a string needs its quotes, e.g. '\"{arg}\"'",
                i + 1
            ))
        })?;
        args.push(value);
    }
    let mut builder = Hoosegow::builder();
    if let Some(dir) = call.inmate {
        builder = builder.inmate_dir(dir);
    }
    if call.in_process {
        builder = builder.in_process();
    } else {
        builder = builder.image_name(call.image);
        if let Some(socket) = call.socket {
            builder = builder.endpoint(Endpoint::Socket(socket));
        }
    }
    let mut replies = HashMap::new();
    for reply in &call.replies {
        let (name, json) = reply.split_once('=').ok_or_else(|| {
            Failure::Usage(format!(
                "--reply {reply}: expected NAME=JSON, e.g. --reply ask='\"yes\"'"
            ))
        })?;
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Failure::Usage(format!("--reply {name}: {json} is not JSON ({e})")))?;
        replies.insert(name.to_string(), value);
    }
    // One call: nothing to prestart, and nothing may outlive the process.
    let jail = builder.ephemeral(0).build().await?;
    let mut options = callbacks(&jail, replies).await?;
    if let Some(timeout_ms) = call.timeout_ms {
        let limits = hoosegow::Limits {
            timeout_ms,
            ..options.get_limits().clone()
        };
        options = options.limits(limits);
    }
    let result = jail.call_with(&call.func, args, &options).await;
    jail.cleanup().await?;
    Ok(result?)
}

/// Handlers for every callback of the inmate: print the ones without a result, answer
/// the others from `--reply`.
async fn callbacks(
    jail: &Hoosegow,
    mut replies: HashMap<String, Value>,
) -> Result<CallOptions, Failure> {
    let world = jail.world().await?;
    if let Some(name) = replies.keys().find(|name| world.import(name).is_none()) {
        let names: Vec<&str> = world.imports.iter().map(|f| f.name.as_str()).collect();
        return Err(Failure::Usage(format!(
            "--reply {name}: the inmate has no callback `{name}`; its callbacks are: {}",
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    let mut options = jail.options().clone();
    for import in world.imports {
        let name = import.name.clone();
        let reply = replies.remove(&name);
        let needs_value = import.result.is_some();
        options = options.callback(import.name, move |args| {
            let outcome = match (&reply, needs_value) {
                (_, false) => {
                    // The name first, as a reader scans for it (a JSON object would sort it after `args`).
                    let name = Value::String(name.clone());
                    eprintln!(r#"{{"callback":{name},"args":{}}}"#, Value::Array(args));
                    Ok(Value::Null)
                }
                (Some(value), true) => Ok(value.clone()),
                (None, true) => Err(format!(
                    "callback `{name}` needs a value and none was given: pass --reply {name}=JSON"
                )),
            };
            std::future::ready(outcome)
        });
    }
    Ok(options)
}
