//! Entry point: no subcommand serves RunFunction; subcommands work offline.

use clap::Parser;
use function_event_driven_service::{cli::Cli, offline, server};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(command) => offline::run(&command),
        None => server::main(cli.serve),
    }
}
