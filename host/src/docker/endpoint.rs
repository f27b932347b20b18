//! Where the Docker daemon is, and the connection to it.

use crate::error::{Error, docker_reason};
use bollard::{API_DEFAULT_VERSION, Docker};
use std::fmt;
use std::path::PathBuf;

/// Seconds a single Docker request may take before bollard gives up on it.
const REQUEST_TIMEOUT_S: u64 = 120;
/// How long the daemon has to answer the first request.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The Docker daemon a jail talks to.
///
/// ```
/// use hoosegow::Endpoint;
///
/// assert_eq!(Endpoint::Socket("/run/docker.sock".into()).to_string(), "unix:///run/docker.sock");
/// assert_eq!(Endpoint::Tcp { host: "127.0.0.1".into(), port: 2375 }.to_string(), "tcp://127.0.0.1:2375");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Endpoint {
    /// `DOCKER_HOST` if set, otherwise the default Unix socket `/var/run/docker.sock`.
    #[default]
    Default,
    /// A Unix socket at this path (the gem's `socket:`).
    Socket(PathBuf),
    /// Plain TCP (the gem's `host:`/`port:`).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// TCP with TLS, certificates in `cert_dir` as `ca.pem`, `cert.pem`, `key.pem`
    /// (the layout of `DOCKER_CERT_PATH`).
    Tls {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// Directory holding `ca.pem`, `cert.pem` and `key.pem`.
        cert_dir: PathBuf,
    },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Default => match std::env::var("DOCKER_HOST") {
                Ok(host) => write!(f, "{host} (from DOCKER_HOST)"),
                Err(_) => f.write_str("unix:///var/run/docker.sock"),
            },
            Endpoint::Socket(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Tls {
                host,
                port,
                cert_dir,
            } => {
                write!(
                    f,
                    "tcp://{host}:{port} (TLS, certificates in {})",
                    cert_dir.display()
                )
            }
        }
    }
}

impl Endpoint {
    /// Connects and agrees on an API version with the daemon (this one speaks 1.41; bollard
    /// would otherwise ask for a newer one and be refused).
    pub async fn connect(&self) -> Result<Docker, Error> {
        let unreachable = |reason: String| Error::DockerUnreachable {
            endpoint: self.to_string(),
            reason,
        };
        let docker = match self {
            Endpoint::Default => Docker::connect_with_defaults(),
            Endpoint::Socket(path) => Docker::connect_with_socket(
                &path.to_string_lossy(),
                REQUEST_TIMEOUT_S,
                API_DEFAULT_VERSION,
            ),
            Endpoint::Tcp { host, port } => Docker::connect_with_http(
                &format!("tcp://{host}:{port}"),
                REQUEST_TIMEOUT_S,
                API_DEFAULT_VERSION,
            ),
            Endpoint::Tls {
                host,
                port,
                cert_dir,
            } => Docker::connect_with_ssl(
                &format!("tcp://{host}:{port}"),
                &cert_dir.join("key.pem"),
                &cert_dir.join("cert.pem"),
                &cert_dir.join("ca.pem"),
                REQUEST_TIMEOUT_S,
                API_DEFAULT_VERSION,
            ),
        }
        .map_err(|e| unreachable(docker_reason(&e)))?;
        // A daemon that accepts and then says nothing must not hang the application.
        match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
            Ok(negotiated) => negotiated.map_err(|e| unreachable(docker_reason(&e))),
            Err(_) => Err(unreachable(format!(
                "no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }
}
