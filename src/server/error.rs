//! Why the server could not start, or stopped with an error, and the exit code for each.

use super::tls_files::{TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE};
use std::{io, net::SocketAddr, path::PathBuf, process::ExitCode};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Neither TLS material nor `--insecure` was given.
    #[error(
        "refusing to serve without TLS: pass --tls-certs-dir DIR (or set TLS_SERVER_CERTS_DIR) \
         to a directory holding {TLS_CERT_FILE}, {TLS_KEY_FILE} and {TLS_CA_FILE} for mutual TLS, \
         or pass --insecure to serve plaintext for local development and `crossplane render`"
    )]
    NoTransportSecurity,
    /// A file of the TLS directory is missing or unreadable.
    #[error("cannot read TLS file {}: {source}", .path.display())]
    TlsFileUnreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A file of the TLS directory does not hold what it should.
    #[error("TLS file {} holds no {expected}", .path.display())]
    TlsFileInvalid {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        expected: &'static str,
    },
    /// The TLS files parse but do not make a usable configuration (e.g. key and certificate differ).
    #[error("cannot set up mutual TLS from {}: {}", .dir.display(), chain(.source))]
    Tls {
        /// The TLS directory.
        dir: PathBuf,
        /// What tonic/rustls said.
        source: tonic::transport::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address from `--address`.
        address: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The process could not set up its runtime, signal handlers or listener.
    #[error("cannot start the server: {0}")]
    Startup(#[source] io::Error),
    /// The reflection service rejected the embedded descriptors (a build defect).
    #[error("cannot build the gRPC reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The server stopped with an error.
    #[error("server failed: {}", chain(.0))]
    Serve(#[source] tonic::transport::Error),
}

impl ServeError {
    /// Exit code: 2 for a configuration the operator must fix, 1 for anything else.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::NoTransportSecurity
            | Self::TlsFileUnreadable { .. }
            | Self::TlsFileInvalid { .. }
            | Self::Tls { .. }
            | Self::Bind { .. } => ExitCode::from(2),
            Self::Startup(_) | Self::Reflection(_) | Self::Serve(_) => ExitCode::FAILURE,
        }
    }
}

/// tonic's transport errors say "transport error" and keep the useful part in their sources.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
