//! Command line: with no subcommand the binary serves RunFunction (it is the image's
//! ENTRYPOINT); subcommands work offline on files.

use crate::{
    offline::{self, Command},
    server::{self, ServeArgs},
};
use clap::Parser;
use std::process::ExitCode;

/// A Crossplane composition function for NATS JetStream workers scaled by KEDA.
#[derive(Debug, Parser)]
#[command(name = "function-event-driven-service", version, about)]
pub struct Cli {
    /// Offline subcommand; without one the function serves gRPC.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of the gRPC server.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Parses the command line and runs what it asks for.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(command) => offline::run(&command),
        None => server::main(cli.serve),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::DEFAULT_MAX_RECV_MESSAGE_SIZE;
    use std::time::Duration;

    #[test]
    fn no_arguments_means_serve_with_crossplane_defaults() {
        let cli = Cli::try_parse_from(["f"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.address.to_string(), "0.0.0.0:9443");
        assert_eq!(
            cli.serve.max_recv_message_size,
            DEFAULT_MAX_RECV_MESSAGE_SIZE
        );
        assert_eq!(cli.serve.ttl, Duration::from_secs(60));
    }
}
