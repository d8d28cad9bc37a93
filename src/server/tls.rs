//! Mutual-TLS material from `--tls-certs-dir`, read and checked before the port is bound.

use super::{
    error::ServeError,
    tls_files::{TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE},
};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::{
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

/// A client that opens a connection and never finishes the handshake must not hold it forever.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
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
    pub fn load(dir: &Path) -> Result<Self, ServeError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| ServeError::TlsFileUnreadable { path, source })
        };
        let invalid = |name: &str, expected| ServeError::TlsFileInvalid {
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
        Server::builder()
            .tls_config(material.server_tls_config())
            .map_err(|source| ServeError::Tls {
                dir: dir.to_path_buf(),
                source,
            })?;
        Ok(material)
    }

    /// The directory the material came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn server_tls_config(&self) -> ServerTlsConfig {
        // A CA root without `client_auth_optional` makes the client certificate mandatory.
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .client_ca_root(Certificate::from_pem(&self.ca))
            .timeout(TLS_HANDSHAKE_TIMEOUT)
    }
}
