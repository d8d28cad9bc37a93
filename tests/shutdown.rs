//! Graceful shutdown of the binary: on SIGTERM or SIGINT it stops accepting, lets calls in flight
//! finish and exits 0. Ordering comes from the protocol and the server's log, never from sleeps.

mod harness;

use function_event_driven_service::{
    function,
    proto::v1::{RunFunctionRequest, RunFunctionResponse},
};
use harness::{request, v1_client, Process, V1_RUN_FUNCTION};
use http::uri::PathAndQuery;
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::sync::oneshot;
use tokio_stream::Stream;
use tonic::{transport::Channel, Status};

/// Log line the server writes once shutdown has begun.
const SHUTTING_DOWN: &str = "shutting down: no new connections, finishing calls in flight";
/// Log line the server writes when the drain deadline cuts calls off.
const DRAIN_TIMEOUT_WARNING: &str =
    "calls still in flight after the drain timeout; stopping anyway";

/// A request body that is held back until the test opens its gate, so the call is on the server
/// (headers received, message not yet) for as long as the test wants. It reports when the
/// client first polls it: by then the call's HEADERS frame is queued on the connection.
struct GatedRequest {
    polled: Option<oneshot::Sender<()>>,
    gate: Option<oneshot::Receiver<RunFunctionRequest>>,
}

impl Stream for GatedRequest {
    type Item = RunFunctionRequest;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(polled) = this.polled.take() {
            let _ = polled.send(());
        }
        let Some(gate) = this.gate.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(gate).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(request) => {
                this.gate = None;
                Poll::Ready(request.ok())
            }
        }
    }
}

/// A call held open by the test.
struct HeldCall {
    request: RunFunctionRequest,
    release: oneshot::Sender<RunFunctionRequest>,
    answer: tokio::task::JoinHandle<Result<RunFunctionResponse, Status>>,
}

/// Starts a RunFunction call whose message is held back, and returns once its headers are queued.
async fn hold_call(channel: Channel, tag: &str) -> HeldCall {
    let (polled_tx, polled) = oneshot::channel();
    let (release, gate) = oneshot::channel();
    let body = GatedRequest {
        polled: Some(polled_tx),
        gate: Some(gate),
    };
    let answer = tokio::spawn(async move {
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        // A client stream of one message is a unary call on the wire.
        grpc.client_streaming(
            tonic::Request::new(body),
            PathAndQuery::from_static(V1_RUN_FUNCTION),
            tonic_prost::ProstCodec::<RunFunctionRequest, RunFunctionResponse>::default(),
        )
        .await
        .map(tonic::Response::into_inner)
    });
    polled.await.expect("the client started sending the call");
    HeldCall {
        request: request(tag),
        release,
        answer,
    }
}

fn expected(req: &RunFunctionRequest) -> RunFunctionResponse {
    function::run(req, Duration::from_secs(60)).expect("well-formed request")
}

async fn connect(process: &Process) -> Channel {
    Channel::from_shared(format!("http://{}", process.addr))
        .expect("valid URL")
        .connect()
        .await
        .expect("connect to the binary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_calls_in_flight_finish_and_exits_zero() {
    let mut process = Process::start(&["--insecure", "--address", "127.0.0.1:0"], None);
    let channel = connect(&process).await;

    let mut held = Vec::new();
    for i in 0..5 {
        held.push(hold_call(channel.clone(), &format!("in-flight-{i}")).await);
    }
    // The server handles frames of a connection in order: once a call made after the held ones
    // is answered, it has accepted every held call, so shutdown must let them finish.
    let probe = request("probe");
    let rsp = v1_client(channel.clone())
        .run_function(probe.clone())
        .await
        .expect("probe call")
        .into_inner();
    assert_eq!(rsp, expected(&probe));

    process.signal("TERM");
    process.wait_for_log(SHUTTING_DOWN);

    for call in held {
        call.release
            .send(call.request.clone())
            .expect("call still waiting for its message");
        let tag = call.request.meta.as_ref().map(|m| m.tag.clone());
        let rsp = call
            .answer
            .await
            .expect("call task")
            .unwrap_or_else(|status| panic!("call {tag:?} in flight at SIGTERM: {status:?}"));
        assert_eq!(rsp, expected(&call.request), "call {tag:?}: whole response");
    }

    let status = process.wait();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    let rest = process.remaining_log();
    assert!(
        rest.iter()
            .any(|line| line.contains("\"message\":\"stopped\"")),
        "logs that it stopped: {rest:?}"
    );
    assert!(
        !rest.iter().any(|line| line.contains(DRAIN_TIMEOUT_WARNING)),
        "stopped because the calls finished, not at the drain deadline: {rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_stop_an_idle_server_with_exit_zero() {
    for signal in ["TERM", "INT"] {
        let mut process = Process::start(&["--insecure", "--address", "127.0.0.1:0"], None);
        // An open but idle client connection must not hold the server up.
        let channel = connect(&process).await;
        let req = request("before-signal");
        let rsp = v1_client(channel.clone())
            .run_function(req.clone())
            .await
            .expect("call before the signal")
            .into_inner();
        assert_eq!(rsp, expected(&req), "SIG{signal}: call before the signal");

        process.signal(signal);
        let status = process.wait();
        assert_eq!(status.code(), Some(0), "SIG{signal}: exit status");
        let rest = process.remaining_log();
        let received = rest
            .iter()
            .find(|line| line.contains("\"message\":\"received signal\""))
            .unwrap_or_else(|| panic!("SIG{signal}: logs the signal: {rest:?}"));
        assert!(
            received.contains(&format!("\"signal\":\"SIG{signal}\"")),
            "SIG{signal}: names the signal: {received}"
        );
        assert!(
            !rest.iter().any(|line| line.contains(DRAIN_TIMEOUT_WARNING)),
            "SIG{signal}: an idle connection does not wait for the drain deadline: {rest:?}"
        );
        drop(channel);
    }
}

#[test]
fn sigterm_exits_zero_after_the_log_reader_went_away() {
    // A log collector that restarts leaves the server writing into a closed pipe: the log
    // lines are lost, the shutdown must not be.
    let mut child = harness::command(&["--insecure", "--address", "127.0.0.1:0"], None)
        .spawn()
        .expect("start the binary");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).expect("read the start-up line");
    assert!(first.contains("\"message\":\"serving\""), "{first}");
    drop(stderr);

    let status = std::process::Command::new("sh")
        .args(["-c", "kill -s TERM \"$1\"", "sh"])
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill failed: {status}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait for the binary") {
            break exit;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        exit.code(),
        Some(0),
        "exit status with stderr closed: {exit}"
    );
}
