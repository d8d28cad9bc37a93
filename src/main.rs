//! Entry point: no subcommand serves RunFunction; subcommands work offline.

use std::process::ExitCode;

fn main() -> ExitCode {
    function_event_driven_service::cli::main()
}
