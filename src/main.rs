//! Entry point: no subcommand serves RunFunction; subcommands work offline.

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    function_event_driven_service::cli::main()
}
