//! HTTPS for the local Hub: a certificate authority made at start, a server certificate it signs
//! for `127.0.0.1` and `localhost` (the Hub and the storage host), and ALPN offering HTTP/2 and
//! HTTP/1.1 as the real Hub and CDN do.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A test certificate authority and the acceptor of a server whose certificate it signed.
pub struct TestCa {
    /// The CA certificate as PEM, for `SSL_CERT_FILE`.
    pub pem_file: PathBuf,
    _dir: tempfile::TempDir,
    pub acceptor: TlsAcceptor,
}

impl TestCa {
    /// A fresh CA (written to a temporary PEM file) and an acceptor for `127.0.0.1` and
    /// `localhost`; `http2` decides whether ALPN offers `h2` besides `http/1.1`.
    pub fn new(http2: bool) -> std::io::Result<TestCa> {
        let ca_key = KeyPair::generate().map_err(std::io::Error::other)?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(std::io::Error::other)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "testhub certificate authority");
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(std::io::Error::other)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(std::io::Error::other)?;
        let server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(std::io::Error::other)?;
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(std::io::Error::other)?;

        let dir = tempfile::tempdir()?;
        let pem_file = dir.path().join("testhub-ca.pem");
        std::fs::write(&pem_file, ca_cert.pem())?;

        let chain = vec![
            CertificateDer::from(server_cert.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(std::io::Error::other)?;
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(TestCa {
            pem_file,
            _dir: dir,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub fn pem_file(&self) -> &Path {
        &self.pem_file
    }
}
