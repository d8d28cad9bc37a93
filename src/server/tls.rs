//! Mutual-TLS material from `--tls-certs-dir`, read and checked before the port is bound.

use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::{
    fmt, io,
    path::{Path, PathBuf},
    time::Duration,
};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

/// Certificate file of the server in a TLS directory.
pub const TLS_CERT_FILE: &str = "tls.crt";
/// Private key file of the server in a TLS directory.
pub const TLS_KEY_FILE: &str = "tls.key";
/// CA bundle that client certificates must chain to.
pub const TLS_CA_FILE: &str = "ca.crt";

/// A client that opens a connection and never finishes the handshake must not hold it forever.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS directory does not make a mutual-TLS configuration. The causes are sources, so
/// whoever prints the error walks them.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing or unreadable.
    #[error("cannot read TLS file {}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A file does not hold what it should.
    #[error("TLS file {} holds no {expected}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        expected: &'static str,
    },
    /// The files parse but do not make a usable configuration (e.g. key and certificate differ).
    #[error("cannot set up mutual TLS from {}", .dir.display())]
    Unusable {
        /// The TLS directory.
        dir: PathBuf,
        /// What tonic/rustls said.
        source: tonic::transport::Error,
    },
}

/// The PEM contents of a mutual-TLS directory, checked when read.
#[derive(Clone)]
pub struct TlsMaterial {
    dir: PathBuf,
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
}

impl fmt::Debug for TlsMaterial {
    // Never print the key, not even in a debug dump of the configuration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Reads `tls.crt`, `tls.key` and `ca.crt` from `dir`, naming the first file that is
    /// missing, unreadable or not PEM of the right kind.
    pub fn load(dir: &Path) -> Result<Self, TlsError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| TlsError::Unreadable { path, source })
        };
        let invalid = |name: &str, expected| TlsError::Invalid {
            path: dir.join(name),
            expected,
        };
        let has_certificates = |pem: &[u8]| {
            CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .is_ok_and(|certs| !certs.is_empty())
        };

        let cert = read(TLS_CERT_FILE)?;
        if !has_certificates(&cert) {
            return Err(invalid(TLS_CERT_FILE, "PEM certificate"));
        }
        let key = read(TLS_KEY_FILE)?;
        if PrivateKeyDer::from_pem_slice(&key).is_err() {
            return Err(invalid(
                TLS_KEY_FILE,
                "PEM private key (RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)",
            ));
        }
        let ca = read(TLS_CA_FILE)?;
        if !has_certificates(&ca) {
            return Err(invalid(TLS_CA_FILE, "PEM CA certificate"));
        }
        let material = Self {
            dir: dir.to_path_buf(),
            cert,
            key,
            ca,
        };
        // Build the TLS acceptor once now, so a key that does not match its certificate stops
        // start-up with the other configuration errors, before the port is bound.
        material.secure(Server::builder())?;
        Ok(material)
    }

    /// `builder` serving mutual TLS with this material.
    pub(super) fn secure(&self, builder: Server) -> Result<Server, TlsError> {
        // A CA root without `client_auth_optional` makes the client certificate mandatory.
        let config = ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .client_ca_root(Certificate::from_pem(&self.ca))
            .timeout(TLS_HANDSHAKE_TIMEOUT);
        builder
            .tls_config(config)
            .map_err(|source| TlsError::Unusable {
                dir: self.dir.clone(),
                source,
            })
    }
}
