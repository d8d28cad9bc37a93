//! The only tonic code: TLS, health, reflection, v1 + v1beta1 services, graceful shutdown.
//!
//! Every call goes straight to [`function::run`]; this module only moves bytes, enforces
//! limits and logs which call arrived, never what it carried. It moves them with its own codec
//! ([`codec`]), which decodes no more of the observed resources than `run` reads.

pub mod codec;
mod error;
mod service;
mod tls;
mod tls_files;

pub use error::ServeError;
pub use tls::TlsMaterial;

use crate::{
    function,
    proto::{
        self,
        v1::{RunFunctionRequest, RunFunctionResponse},
    },
};
use clap::Args;
use service::{RunFunction, V1beta1, V1};
use std::{
    future::Future,
    io::{self, IsTerminal},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::Duration,
};
use tokio::{
    net::TcpListener,
    signal::unix::{signal, SignalKind},
    sync::oneshot,
};
use tonic::{
    codegen::http,
    transport::{server::TcpIncoming, Server},
    Request, Response, Status,
};
use tracing::{debug, info, warn};

/// Default gRPC receive limit: gRPC's own 4 MiB is too small for large pipelines.
pub const DEFAULT_MAX_RECV_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

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
    #[arg(long, default_value = "60s", value_parser = crate::api::input::parse_duration)]
    pub ttl: Duration,
}

type V1Server = RunFunction<V1>;
type V1beta1Server = RunFunction<V1beta1>;

/// How long in-flight calls may run on after a shutdown signal; a stuck client (or an endless
/// health Watch stream) must not keep the pod past Kubernetes' 30 s termination grace period.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// What [`serve`] needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// TTL of responses whose Input sets none.
    pub ttl: Duration,
    /// Largest request accepted and largest response sent, in bytes.
    pub max_message_size: usize,
    /// Mutual-TLS material; `None` serves plaintext.
    pub tls: Option<TlsMaterial>,
    /// How long in-flight calls may run on after shutdown begins.
    pub drain_timeout: Duration,
}

impl ServerConfig {
    /// Resolves the flags: `--insecure` wins over a TLS directory; neither is an error.
    pub fn from_args(args: &ServeArgs) -> Result<Self, ServeError> {
        let tls = match (&args.tls_certs_dir, args.insecure) {
            (_, true) => None,
            (Some(dir), false) => Some(TlsMaterial::load(dir)?),
            (None, false) => return Err(ServeError::NoTransportSecurity),
        };
        Ok(Self {
            ttl: args.ttl,
            max_message_size: args.max_recv_message_size,
            tls,
            drain_timeout: DRAIN_TIMEOUT,
        })
    }
}

/// The RunFunction service, registered under both protocol packages.
#[derive(Debug)]
struct Function {
    ttl: Duration,
}

impl Function {
    /// Answers one RunFunction call that arrived under `protocol` (`v1` or `v1beta1`).
    fn run(
        &self,
        protocol: &'static str,
        request: Request<RunFunctionRequest>,
    ) -> Result<Response<RunFunctionResponse>, Status> {
        let request = request.into_inner();
        debug!(
            protocol,
            tag = request.meta.as_ref().map_or("", |m| m.tag.as_str()),
            xr = composite_name(&request).unwrap_or(""),
            "RunFunction"
        );
        function::run(&request, self.ttl)
            .map(Response::new)
            .map_err(|malformed| Status::invalid_argument(malformed.to_string()))
    }
}

/// `metadata.name` of the observed XR, read without converting the whole resource.
fn composite_name(request: &RunFunctionRequest) -> Option<&str> {
    use prost_types::value::Kind;
    let xr = request
        .observed
        .as_ref()?
        .composite
        .as_ref()?
        .resource
        .as_ref()?;
    let Some(Kind::StructValue(metadata)) = xr.fields.get("metadata")?.kind.as_ref() else {
        return None;
    };
    match metadata.fields.get("name")?.kind.as_ref()? {
        Kind::StringValue(name) => Some(name),
        _ => None,
    }
}

/// tonic rejects an oversized request with OUT_OF_RANGE; gRPC's convention (and what Crossplane's
/// Go client reports) is RESOURCE_EXHAUSTED. No handler here returns OUT_OF_RANGE, so the rewrite
/// touches only that rejection, which tonic sends as a headers-only response.
fn oversized_is_resource_exhausted(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let out_of_range = http::HeaderValue::from(tonic::Code::OutOfRange as i32);
    let headers = response.headers_mut();
    if headers.get(Status::GRPC_STATUS) == Some(&out_of_range) {
        headers.insert(
            Status::GRPC_STATUS,
            http::HeaderValue::from(tonic::Code::ResourceExhausted as i32),
        );
    }
    response
}

/// Serves RunFunction (v1 and v1beta1), health and reflection on `listener` until `shutdown`
/// completes, then lets in-flight calls finish (up to the configured drain timeout).
pub async fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let address = listener.local_addr().map_err(ServeError::Startup)?;
    let limit = config.max_message_size;
    let function = Arc::new(Function { ttl: config.ttl });
    let v1 = V1Server::new(Arc::clone(&function), limit);
    let v1beta1 = V1beta1Server::new(function, limit);

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<V1Server>().await;
    health.set_serving::<V1beta1Server>().await;

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let mut builder = Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder
            .tls_config(tls.server_tls_config())
            .map_err(|source| ServeError::Tls {
                dir: tls.dir().to_path_buf(),
                source,
            })?;
    }
    let router = builder
        .layer(tower::util::MapResponseLayer::new(
            oversized_is_resource_exhausted,
        ))
        .add_service(v1)
        .add_service(v1beta1)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    // Small unary messages: without TCP_NODELAY, Nagle's algorithm delays responses.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));

    let (draining_tx, draining_rx) = oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        info!("shutting down: no new connections, finishing calls in flight");
        health.set_not_serving::<V1Server>().await;
        health.set_not_serving::<V1beta1Server>().await;
        health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        let _ = draining_tx.send(());
    };
    let drain_timeout = config.drain_timeout;
    let drain_deadline = async move {
        match draining_rx.await {
            Ok(()) => tokio::time::sleep(drain_timeout).await,
            // The server ended without a shutdown signal; it reports its own outcome.
            Err(_) => std::future::pending().await,
        }
    };

    info!(
        %address,
        tls = config.tls.is_some(),
        max_recv_message_size = limit,
        ttl_seconds = config.ttl.as_secs(),
        "serving"
    );
    tokio::select! {
        served = router.serve_with_incoming_shutdown(incoming, signal) => {
            served.map_err(ServeError::Serve)?;
        }
        () = drain_deadline => {
            warn!(
                drain_timeout_seconds = drain_timeout.as_secs(),
                "calls still in flight after the drain timeout; stopping anyway"
            );
        }
    }
    info!("stopped");
    Ok(())
}

/// Completes on the first SIGTERM or SIGINT. Handlers are installed before it is awaited, so a
/// signal that arrives during start-up is not lost.
fn termination_signal() -> io::Result<impl Future<Output = ()> + Send> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        info!(signal = name, "received signal");
    })
}

/// JSON lines on stderr for log collectors; `--debug` switches to human-readable text and also
/// logs each call. Dependencies log at warn only: their debug output names peers and frames.
fn init_tracing(debug: bool) {
    let filter = tracing_subscriber::EnvFilter::new(if debug {
        "warn,function_event_driven_service=debug"
    } else {
        "warn,function_event_driven_service=info"
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::stderr().is_terminal())
        .with_writer(io::stderr)
        // When stderr is gone (a log collector restarted), a failed write would be reported on
        // stderr again, and that second failure panics: lose the line, keep serving.
        .log_internal_errors(false);
    // A second initialisation can only happen in-process (tests); keep the first subscriber.
    let _ = if debug {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}

async fn run(address: SocketAddr, config: ServerConfig) -> Result<(), ServeError> {
    let shutdown = termination_signal().map_err(ServeError::Startup)?;
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Bind { address, source })?;
    serve(listener, &config, shutdown).await
}

/// Serves RunFunction until SIGTERM or SIGINT; the exit code says whether it stopped cleanly.
pub fn main(args: ServeArgs) -> ExitCode {
    init_tracing(args.debug);
    let result = ServerConfig::from_args(&args).and_then(|config| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(ServeError::Startup)?
            .block_on(run(args.address, config))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Plain text, not a JSON log line: whoever starts the binary by hand must read it.
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn transport_security_is_resolved_from_the_flags() {
        let missing = "/nonexistent/certs";
        let cases: [(&[&str], Result<bool, &str>, &str); 4] = [
            (&["--insecure"], Ok(false), "plaintext on request"),
            (
                &["--insecure", "--tls-certs-dir", missing],
                Ok(false),
                "--insecure wins, so the directory is not even read",
            ),
            (
                &[],
                Err("refusing to serve without TLS"),
                "never plaintext by accident",
            ),
            (
                &["--tls-certs-dir", missing],
                Err("/nonexistent/certs/tls.crt"),
                "the unreadable file is named",
            ),
        ];
        for (flags, want, reason) in cases {
            let cli = Cli::try_parse_from(std::iter::once("f").chain(flags.iter().copied()))
                .expect("flags parse");
            let got = ServerConfig::from_args(&cli.serve)
                .map(|config| config.tls.is_some())
                .map_err(|err| err.to_string());
            match (got, want) {
                (Ok(tls), Ok(want_tls)) => assert_eq!(tls, want_tls, "{flags:?}: {reason}"),
                (Err(err), Err(needle)) => {
                    assert!(err.contains(needle), "{flags:?}: {reason}: {err}")
                }
                (got, want) => panic!("{flags:?}: {reason}: got {got:?}, want {want:?}"),
            }
        }
    }
}
