//! RunFunction as a gRPC service under each protocol package: tonic routes and frames the call
//! as its generated server would, and [`RunFunctionCodec`] codes the messages.

use super::{codec::RunFunctionCodec, Function};
use crate::proto::{
    self,
    v1::{RunFunctionRequest, RunFunctionResponse},
};
use std::{
    convert::Infallible,
    future::{ready, Future, Ready},
    marker::PhantomData,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tonic::{
    body::Body,
    codegen::{http, Body as HttpBody, Service, StdError},
    server::{Grpc, NamedService, UnaryService},
    Request, Response, Status,
};

/// A protocol package RunFunction is served under.
pub trait Package: Send + Sync + 'static {
    /// The gRPC service name, as the generated code names it.
    const SERVICE: &'static str;
    /// The package's version, as logs name it.
    const PROTOCOL: &'static str;
}

/// `apiextensions.fn.proto.v1`.
#[derive(Debug)]
pub enum V1 {}

impl Package for V1 {
    const SERVICE: &'static str = proto::v1::function_runner_service_server::SERVICE_NAME;
    const PROTOCOL: &'static str = "v1";
}

/// `apiextensions.fn.proto.v1beta1`.
#[derive(Debug)]
pub enum V1beta1 {}

impl Package for V1beta1 {
    const SERVICE: &'static str = proto::v1beta1::function_runner_service_server::SERVICE_NAME;
    const PROTOCOL: &'static str = "v1beta1";
}

/// Whether `path` is `/<service>/RunFunction`.
fn is_run_function(path: &str, service: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|path| path.strip_prefix(service))
        == Some("/RunFunction")
}

/// RunFunction under package `P`.
#[derive(Debug)]
pub struct RunFunction<P> {
    function: Arc<Function>,
    max_message_size: usize,
    package: PhantomData<P>,
}

impl<P> RunFunction<P> {
    /// The service, refusing requests and responses larger than `max_message_size` bytes.
    pub fn new(function: Arc<Function>, max_message_size: usize) -> Self {
        Self {
            function,
            max_message_size,
            package: PhantomData,
        }
    }
}

// Derived Clone would ask the same of `P`; only the `Arc` is cloned.
impl<P> Clone for RunFunction<P> {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(&self.function), self.max_message_size)
    }
}

impl<P: Package> NamedService for RunFunction<P> {
    const NAME: &'static str = P::SERVICE;
}

type Answer = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl<P, B> Service<http::Request<B>> for RunFunction<P>
where
    P: Package,
    B: HttpBody + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Answer {
        if !is_run_function(request.uri().path(), P::SERVICE) {
            return Box::pin(ready(Ok(Status::unimplemented("").into_http())));
        }
        let call = Call::<P>(Arc::clone(&self.function), PhantomData);
        let limit = Some(self.max_message_size);
        Box::pin(async move {
            let mut grpc = Grpc::new(RunFunctionCodec).apply_max_message_size_config(limit, limit);
            Ok(grpc.unary(call, request).await)
        })
    }
}

/// One call under package `P`.
struct Call<P>(Arc<Function>, PhantomData<P>);

impl<P: Package> UnaryService<RunFunctionRequest> for Call<P> {
    type Response = RunFunctionResponse;
    type Future = Ready<Result<Response<RunFunctionResponse>, Status>>;

    fn call(&mut self, request: Request<RunFunctionRequest>) -> Self::Future {
        ready(self.0.run(P::PROTOCOL, request))
    }
}
