//! Command line: with no subcommand the binary serves RunFunction (it is the image's
//! ENTRYPOINT); subcommands work offline on files.

use crate::{
    doctor::{self, DoctorArgs},
    offline,
    server::{self, ServeArgs},
};
use clap::{Parser, Subcommand};
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

/// The subcommands: the offline ones, and doctor, which asks NATS' monitoring port.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work on files with no cluster.
    #[command(flatten)]
    Offline(offline::Command),
    /// Check a claim's scaling against the NATS servers KEDA will ask.
    ///
    /// Replays KEDA's nats-jetstream query on every node and reports the account, stream and
    /// consumer, the lag KEDA will read, and what to fix. Exit 0 when KEDA will read the right
    /// numbers, 1 when not, 2 when the claim cannot be checked.
    Doctor(DoctorArgs),
}

/// Parses the command line and runs what it asks for.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Offline(command)) => offline::run(&command),
        Some(Command::Doctor(args)) => doctor::run(&args),
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
