//! The only tonic code: TLS, health, reflection, v1 + v1beta1 services, graceful shutdown.

use crate::cli::ServeArgs;
use std::process::ExitCode;

/// Serves RunFunction until SIGTERM or SIGINT.
pub fn main(_args: ServeArgs) -> ExitCode {
    eprintln!("serving is not wired yet");
    ExitCode::FAILURE
}
