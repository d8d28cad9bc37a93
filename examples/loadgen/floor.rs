//! The transport floor: a stock tonic server that answers every RunFunction with the same
//! canned response, so the load generator can compare our server with one that does no work
//! of its own.
//!
//! It runs as its own process, like our server: one multi-threaded tokio runtime with a worker
//! per core, TCP_NODELAY, the same 16 MiB message limits and the same allocator. It serves
//! tonic's generated service code, so prost decodes each whole request and encodes each
//! response, as any tonic server does, ours included. Ours differs only in its handler
//! (`function::run` instead of a clone of the canned response), so the floor is a reference
//! line for what the transport costs, not a target.

use function_event_driven_service::{
    proto::v1::{
        function_runner_service_server::{FunctionRunnerService, FunctionRunnerServiceServer},
        RunFunctionRequest, RunFunctionResponse,
    },
    server::DEFAULT_MAX_RECV_MESSAGE_SIZE,
};
use prost::Message;
use std::{io::Read, process::ExitCode};
use tokio::{
    net::TcpListener,
    signal::unix::{signal, SignalKind},
};
use tonic::{
    transport::{server::TcpIncoming, Server},
    Request, Response, Status,
};

struct Canned(RunFunctionResponse);

#[tonic::async_trait]
impl FunctionRunnerService for Canned {
    async fn run_function(
        &self,
        _request: Request<RunFunctionRequest>,
    ) -> Result<Response<RunFunctionResponse>, Status> {
        Ok(Response::new(self.0.clone()))
    }
}

/// Reads the encoded response from standard input, serves it on an ephemeral loopback port
/// until SIGTERM, and logs `serving` with the address as our server does.
pub fn main() -> ExitCode {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("floor: cannot read the canned response from standard input: {e}");
        return ExitCode::from(2);
    }
    let canned = match RunFunctionResponse::decode(bytes.as_slice()) {
        Ok(canned) => canned,
        Err(e) => {
            eprintln!("floor: standard input is not an encoded RunFunctionResponse: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("floor: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(canned)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(canned: RunFunctionResponse) -> Result<(), String> {
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let service = FunctionRunnerServiceServer::new(Canned(canned))
        .max_decoding_message_size(DEFAULT_MAX_RECV_MESSAGE_SIZE)
        .max_encoding_message_size(DEFAULT_MAX_RECV_MESSAGE_SIZE);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    eprintln!(
        "{}",
        serde_json::json!({"message": "serving", "address": address.to_string()})
    );
    Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            terminate.recv().await;
        })
        .await
        .map_err(|e| format!("server failed: {e}"))
}
