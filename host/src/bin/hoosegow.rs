//! `hoosegow`: call an inmate from the command line.
//!
//! ```text
//! hoosegow call --image IMAGE FUNC [JSON-ARG...]
//! hoosegow call --in-process --inmate DIR FUNC [JSON-ARG...]
//! ```
//!
//! Prints the JSON result on stdout. Exit status: 0 on success, 1 when the inmate failed,
//! 2 when the input or the setup is wrong (with a message that says what to do).

use clap::{Parser, Subcommand};
use hoosegow::{Endpoint, Error, Hoosegow, Value};
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
        | Error::JailEnded { .. }
        | Error::Protocol { .. }
        | Error::RunnerRefused { .. } => 1,
        _ => 2,
    }
}

async fn run(cli: Cli) -> Result<Value, Failure> {
    let Command::Call(call) = cli.command;
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
    let jail = builder.build().await?;
    Ok(jail.call(&call.func, args).await?)
}
