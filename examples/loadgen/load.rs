//! Concurrent RunFunction calls for a fixed time, with every answer checked and timed.
//!
//! The clients send the request already encoded and compare the answer's bytes with the
//! expected ones instead of decoding them: on a two-core machine the clients share the CPU with
//! the server, and the less they spend per call, the more the figures say about the server.
//! Only an answer whose bytes differ is decoded: Go's protobuf encodes a map's entries in a
//! different order on every call, so function-patch-and-transform's answers compare as messages.

use crate::{child::cpu_time, raw_codec::RawCodec};
use bytes::Bytes;
use function_event_driven_service::proto::v1::RunFunctionResponse;
use http::uri::PathAndQuery;
use prost::Message;
use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tonic::{
    client::Grpc,
    transport::{Channel, Endpoint},
};

/// gRPC path of RunFunction in the v1 package.
const RUN_FUNCTION: &str = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction";
/// Longest a single call may take before it counts as an error; bounds the run's length.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message either way, as the server's default receive limit.
pub const MAX_MESSAGE: usize = function_event_driven_service::server::DEFAULT_MAX_RECV_MESSAGE_SIZE;

/// A plaintext HTTP/2 connection to `addr`.
pub async fn connect(addr: SocketAddr) -> Result<Channel, String> {
    Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| format!("bad address {addr}: {e}"))?
        .tcp_nodelay(true)
        .connect_timeout(CALL_TIMEOUT)
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))
}

/// A gRPC client on `channel` that accepts messages as large as the server does.
fn grpc(channel: Channel) -> Grpc<Channel> {
    Grpc::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// One RunFunction call with `body` as the encoded request; the encoded answer comes back.
pub async fn call(channel: Channel, body: Bytes) -> Result<Bytes, String> {
    once(&mut grpc(channel), body).await
}

/// One call on an existing client, bounded by [`CALL_TIMEOUT`].
async fn once(grpc: &mut Grpc<Channel>, body: Bytes) -> Result<Bytes, String> {
    let answer = async {
        grpc.ready()
            .await
            .map_err(|e| format!("connection not ready: {e}"))?;
        grpc.unary(
            tonic::Request::new(body),
            PathAndQuery::from_static(RUN_FUNCTION),
            RawCodec,
        )
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
    };
    tokio::time::timeout(CALL_TIMEOUT, answer)
        .await
        .map_err(|_| format!("no answer within {CALL_TIMEOUT:?}"))?
}

/// The answer every call must get: these bytes, or bytes that decode to the same message.
#[derive(Debug)]
pub struct Answer {
    bytes: Bytes,
    message: RunFunctionResponse,
}

impl Answer {
    /// The first answer of a server, which every later one must equal.
    pub fn new(bytes: Bytes) -> Result<Self, String> {
        let message = RunFunctionResponse::decode(bytes.as_ref())
            .map_err(|e| format!("the answer does not decode: {e}"))?;
        Ok(Self { bytes, message })
    }

    /// The answer as encoded the first time.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The answer decoded.
    pub fn message(&self) -> &RunFunctionResponse {
        &self.message
    }

    fn matches(&self, got: &Bytes) -> bool {
        *got == self.bytes
            || RunFunctionResponse::decode(got.as_ref()).is_ok_and(|m| m == self.message)
    }
}

/// How much load, for how long.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Concurrent callers, each with one call in flight at a time.
    pub clients: usize,
    /// HTTP/2 connections the callers share, round robin.
    pub connections: usize,
    /// Calls before measuring, to reach steady state (connections, allocator, caches).
    pub warmup: Duration,
    /// How long calls are measured.
    pub duration: Duration,
    /// Cap on measured calls per client, whatever the duration.
    pub max_calls_per_client: usize,
}

/// What one load phase measured.
#[derive(Debug)]
pub struct Outcome {
    /// Latency of every successful measured call, sorted.
    pub latencies: Vec<Duration>,
    /// From the end of warm-up to the last client's last answer.
    pub elapsed: Duration,
    /// Failed or wrong answers, warm-up included.
    pub errors: usize,
    /// What the first failure was.
    pub first_error: Option<String>,
    /// CPU the server used while measured, when its process id is known.
    pub server_cpu: Option<Duration>,
    /// CPU the clients (this whole process) used while measured.
    pub client_cpu: Duration,
}

impl Outcome {
    /// Successful measured calls per second.
    pub fn calls_per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// CPU time per successful call of the server, then of the clients.
    pub fn cpu_per_call(&self) -> (Option<Duration>, Duration) {
        let calls = u32::try_from(self.latencies.len().max(1)).unwrap_or(u32::MAX);
        (
            self.server_cpu.map(|cpu| cpu / calls),
            self.client_cpu / calls,
        )
    }

    /// The latency at quantile `q` (0..=1) by nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// Runs `plan` against `addr` (served by process `server`, when known): every call sends
/// `body` and must get back exactly `expected`.
pub async fn drive(
    addr: SocketAddr,
    server: Option<u32>,
    plan: Plan,
    body: Bytes,
    expected: Arc<Answer>,
) -> Result<Outcome, String> {
    let mut channels = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections.max(1) {
        channels.push(connect(addr).await?);
    }
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..plan.clients.max(1) {
        let channel = channels[i % channels.len()].clone();
        let (body, expected) = (body.clone(), expected.clone());
        tasks.spawn(client(channel, body, expected, measure_from, end, plan));
    }
    let cpu = || -> Result<(Option<Duration>, Duration), String> {
        Ok((
            server.map(|pid| cpu_time(Some(pid))).transpose()?,
            cpu_time(None)?,
        ))
    };
    tokio::time::sleep_until(measure_from.into()).await;
    let (server_before, client_before) = cpu()?;
    let mut outcome = Outcome {
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        errors: 0,
        first_error: None,
        server_cpu: None,
        client_cpu: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        let mine = joined.map_err(|e| format!("a client task failed: {e}"))?;
        outcome.latencies.extend(mine.latencies);
        outcome.errors += mine.errors;
        if outcome.first_error.is_none() {
            outcome.first_error = mine.first_error;
        }
    }
    outcome.elapsed = measure_from.elapsed();
    let (server_after, client_after) = cpu()?;
    outcome.server_cpu = server_after
        .zip(server_before)
        .map(|(after, before)| after.saturating_sub(before));
    outcome.client_cpu = client_after.saturating_sub(client_before);
    outcome.latencies.sort_unstable();
    Ok(outcome)
}

/// One caller: back-to-back calls until `end`, timing those that start after `measure_from`.
async fn client(
    channel: Channel,
    body: Bytes,
    expected: Arc<Answer>,
    measure_from: Instant,
    end: Instant,
    plan: Plan,
) -> Outcome {
    let mut mine = Outcome {
        latencies: Vec::with_capacity(plan.max_calls_per_client.min(1 << 20)),
        elapsed: Duration::ZERO,
        errors: 0,
        first_error: None,
        server_cpu: None,
        client_cpu: Duration::ZERO,
    };
    let mut grpc = grpc(channel);
    loop {
        let sent = Instant::now();
        if sent >= end || mine.latencies.len() >= plan.max_calls_per_client {
            break;
        }
        let answer = once(&mut grpc, body.clone()).await;
        let took = sent.elapsed();
        let failure = match answer {
            Ok(bytes) if expected.matches(&bytes) => None,
            Ok(bytes) => Some(format!(
                "answer differs from the first one ({} bytes, expected {})",
                bytes.len(),
                expected.bytes().len()
            )),
            Err(e) => Some(e),
        };
        match failure {
            Some(e) => {
                mine.errors += 1;
                mine.first_error.get_or_insert(e);
            }
            None if sent >= measure_from => mine.latencies.push(took),
            None => {}
        }
    }
    mine
}
