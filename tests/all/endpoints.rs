//! Remote daemons: the local daemon's socket served again on 127.0.0.1, over plain TCP and
//! over TLS with certificates made here, as a second endpoint of the same daemon.

use crate::support;
use hoosegow::{Endpoint, Error, Hoosegow};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream, UnixStream};

const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Forwards one client connection to the daemon's socket.
async fn forward<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut client: S) {
    if let Ok(mut daemon) = UnixStream::connect(DOCKER_SOCKET).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut daemon).await;
    }
}

/// The daemon on 127.0.0.1 over plain TCP; returns the port.
async fn tcp_endpoint() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(forward(client));
        }
    });
    port
}

/// A certificate authority and what it signed, written as `DOCKER_CERT_PATH` expects.
struct Pki {
    ca: Issuer<'static, KeyPair>,
    ca_pem: String,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Pki {
            ca: Issuer::new(params, key),
            ca_pem,
        }
    }

    /// A certificate for `names`, signed by this authority: (cert PEM, key PEM).
    fn issue(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = CertificateParams::new(names).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A client certificate directory (ca.pem, cert.pem, key.pem) named `name`.
fn cert_dir(name: &str, ca: &Pki, client: &Pki) -> PathBuf {
    let dir = support::workspace().join("target/tls-test").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = client.issue(&["client"]);
    std::fs::write(dir.join("ca.pem"), &ca.ca_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    dir
}

/// The daemon on 127.0.0.1 over TLS, with a server certificate from `server_ca` and client
/// certificates required from `client_ca`; returns the port.
async fn tls_endpoint(server_ca: &Pki, client_ca: &Pki) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (cert, key) = server_ca.issue(&["localhost", "127.0.0.1"]);
    let certs = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(client_ca.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(client).await {
                    forward::<tokio_rustls::server::TlsStream<TcpStream>>(tls).await;
                }
            });
        }
    });
    port
}

async fn reverse_over(endpoint: Endpoint) -> Result<serde_json::Value, Error> {
    let image = support::alias("reverse", "endpoints").await;
    let jail = Hoosegow::builder()
        .image_name(image)
        .ephemeral(0)
        .endpoint(endpoint)
        .build()
        .await?;
    let result = jail.call("reverse", vec![json!("over the wire")]).await;
    jail.cleanup().await?;
    result
}

#[tokio::test]
async fn a_tcp_endpoint_works() {
    let port = tcp_endpoint().await;
    let endpoint = Endpoint::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    assert_eq!(
        reverse_over(endpoint).await.unwrap(),
        json!("eriw eht revo")
    );
}

#[tokio::test]
async fn a_tls_endpoint_works_and_a_wrong_certificate_is_refused_clearly() {
    let (ours, strangers) = (Pki::new("hoosegow test CA"), Pki::new("some other CA"));
    let port = tls_endpoint(&ours, &ours).await;
    let tls = |dir: &Path| Endpoint::Tls {
        host: "127.0.0.1".into(),
        port,
        cert_dir: dir.to_path_buf(),
    };

    let good = cert_dir("good", &ours, &ours);
    assert_eq!(
        reverse_over(tls(&good)).await.unwrap(),
        json!("eriw eht revo")
    );

    // A client certificate the daemon does not trust, and a daemon the client does not trust.
    for (name, dir) in [
        (
            "client-from-other-ca",
            cert_dir("bad-client", &ours, &strangers),
        ),
        (
            "server-from-other-ca",
            cert_dir("bad-server", &strangers, &ours),
        ),
    ] {
        let err = reverse_over(tls(&dir)).await.unwrap_err();
        assert!(
            matches!(err, Error::DockerUnreachable { .. }),
            "{name}: {err:?}"
        );
        let text = err.to_string();
        // The handshake's own words, and what to check.
        let reason = match name {
            "client-from-other-ca" => "received fatal alert: UnknownCA",
            _ => "invalid peer certificate: UnknownIssuer",
        };
        assert!(
            text.contains(reason) && text.contains("The TLS handshake failed"),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!(
                "tcp://127.0.0.1:{port} (TLS, certificates in {}",
                dir.display()
            )),
            "{name}: {text}"
        );
    }
    let missing = tls(Path::new("/nonexistent/certs"));
    let err = reverse_over(missing).await.unwrap_err();
    assert!(matches!(err, Error::DockerUnreachable { .. }), "{err:?}");
    support::record_attack(
        "host",
        "TLS endpoint with a client or server certificate from an untrusted CA",
        "DockerUnreachable naming the endpoint, the certificate directory and the handshake's reason (UnknownCA / UnknownIssuer); nothing sent",
    );
}
