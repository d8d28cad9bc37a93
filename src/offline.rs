//! The offline subcommands: render, validate and schema, on files and with no cluster.

use crate::cli::Command;
use std::process::ExitCode;

/// Runs one offline subcommand and maps its outcome to an exit code.
pub fn run(_command: &Command) -> ExitCode {
    eprintln!("offline commands are not wired yet");
    ExitCode::FAILURE
}
