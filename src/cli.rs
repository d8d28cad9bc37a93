//! Command line: with no subcommand the binary serves RunFunction (it is the image's
//! ENTRYPOINT); subcommands work offline on files.

use clap::{Args, Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// Default gRPC receive limit: gRPC's own 4 MiB is too small for large pipelines.
pub const DEFAULT_MAX_RECV_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

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

/// Flags of the gRPC server, as Crossplane's function runtime passes them.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:9443")]
    pub address: SocketAddr,
    /// Directory holding tls.crt, tls.key and ca.crt for mutual TLS.
    #[arg(long, env = "TLS_SERVER_CERTS_DIR")]
    pub tls_certs_dir: Option<PathBuf>,
    /// Serve without TLS (wins over --tls-certs-dir); for local development and `crossplane render`.
    #[arg(long)]
    pub insecure: bool,
    /// Human-readable debug logs instead of JSON.
    #[arg(short, long)]
    pub debug: bool,
    /// Largest request accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_RECV_MESSAGE_SIZE)]
    pub max_recv_message_size: usize,
    /// How long Crossplane may cache a response, e.g. 60s, 5m, 1h.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub ttl: Duration,
}

/// Offline work on files.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the resources a claim or XR composes, as a YAML stream, with no cluster.
    Render(RenderArgs),
    /// Check claims and XRs; print every problem as FILE: field.path: message.
    Validate(ValidateArgs),
    /// Print the JSON Schema of an EventDrivenService claim.
    Schema,
}

/// Arguments of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A claim (kind EventDrivenService) or XR (kind XEventDrivenService).
    pub file: PathBuf,
    /// A function Input (kind Input) to render with.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Observed composed resources (a YAML stream) to derive readiness, status and conditions from.
    #[arg(long)]
    pub observed: Option<PathBuf>,
    /// Treat a `kind: EventDrivenService` document as a Crossplane v2 namespaced XR, not a claim.
    #[arg(long)]
    pub namespaced: bool,
}

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Claim or XR files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Parses `90`, `90s`, `5m` or `1h` into a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 60s, 5m or 1h"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    };
    secs.map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is not a duration like 60s, 5m or 1h"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_seconds_minutes_and_hours() {
        let cases = [
            ("60", Some(60)),
            ("60s", Some(60)),
            ("5m", Some(300)),
            ("1h", Some(3600)),
            ("1d", None),
            ("s", None),
            ("-1s", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_duration(input).ok().map(|d| d.as_secs()),
                want,
                "parsing {input:?}"
            );
        }
    }

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
