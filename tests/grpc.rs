//! RunFunction over real gRPC on loopback: both protocol packages, health, reflection, limits,
//! malformed input and concurrency, against a server bound to 127.0.0.1:0 in this process.

mod harness;

use function_event_driven_service::{
    document::convert::json_to_struct,
    function,
    proto::v1::{Resource, RunFunctionRequest, RunFunctionResponse, State},
};
use harness::{
    call_raw, config_from_flags, insecure_config, request, request_after_earlier_step, resource,
    v1_client, v1beta1_client, TestServer, V1BETA1_RUN_FUNCTION, V1_RUN_FUNCTION,
};
use prost::Message;
use serde_json::json;
use std::{collections::BTreeMap, time::Duration};
use tonic::{transport::Channel, Code, Status};

/// Protocol packages Crossplane may call.
#[derive(Debug, Clone, Copy)]
enum Protocol {
    V1,
    V1beta1,
}

const PROTOCOLS: [Protocol; 2] = [Protocol::V1, Protocol::V1beta1];

async fn run_function(
    protocol: Protocol,
    channel: Channel,
    req: RunFunctionRequest,
) -> Result<RunFunctionResponse, Status> {
    let rsp = match protocol {
        Protocol::V1 => v1_client(channel).run_function(req).await,
        Protocol::V1beta1 => v1beta1_client(channel).run_function(req).await,
    };
    rsp.map(tonic::Response::into_inner)
}

/// What the server must answer: the function's own response, unchanged by transport.
fn expected(req: &RunFunctionRequest) -> RunFunctionResponse {
    function::run(req, Duration::from_secs(60)).expect("test request is well formed")
}

/// Checks the properties every answer to a well-formed request has, independently of the
/// composition: tag echoed, the 60 s default TTL, and the request's desired state and context
/// carried over.
fn assert_starts_from_request(req: &RunFunctionRequest, rsp: &RunFunctionResponse, case: &str) {
    let meta = rsp.meta.as_ref().expect("response meta");
    let tag = req.meta.as_ref().map_or("", |m| m.tag.as_str());
    assert_eq!(meta.tag, tag, "{case}: tag echoed");
    assert_eq!(
        meta.ttl,
        Some(prost_types::Duration {
            seconds: 60,
            nanos: 0
        }),
        "{case}: default TTL"
    );
    assert_eq!(rsp.context, req.context, "{case}: context carried over");
    let desired = rsp.desired.as_ref().expect("response desired state");
    if let Some(earlier) = &req.desired {
        for (key, resource) in &earlier.resources {
            assert_eq!(
                desired.resources.get(key),
                Some(resource),
                "{case}: earlier desired resource {key} passed through"
            );
        }
    }
}

#[tokio::test]
async fn run_function_answers_the_same_whole_response_on_v1_and_v1beta1() {
    struct Case {
        name: &'static str,
        reason: &'static str,
        request: RunFunctionRequest,
    }
    let cases = [
        Case {
            name: "first pipeline step",
            reason: "a minimal valid claim XR with nothing desired yet",
            request: request("first-step"),
        },
        Case {
            name: "later pipeline step",
            reason: "desired XR status, resources, connection details, readiness and context \
                     from an earlier step must survive the round trip",
            request: request_after_earlier_step("later-step"),
        },
        Case {
            name: "steady reconcile",
            reason: "the server decodes only what the function reads of the observed Objects",
            request: harness::steady_reconcile(),
        },
        Case {
            name: "no tag",
            reason: "crossplane render sends no tag",
            request: RunFunctionRequest {
                meta: None,
                ..request("")
            },
        },
        Case {
            name: "invalid spec",
            reason: "a user mistake is a Fatal result inside an OK response, not a gRPC error",
            request: {
                let mut req = request_after_earlier_step("bad-spec");
                let mut xr = harness::minimal_xr();
                xr["spec"]["size"] = json!("gigantic");
                req.observed = Some(State {
                    composite: Some(resource(&xr)),
                    ..Default::default()
                });
                req
            },
        },
    ];

    let server = TestServer::start(insecure_config()).await;
    let channel = server.channel().await;
    for case in &cases {
        for protocol in PROTOCOLS {
            let label = format!("{} over {protocol:?} ({})", case.name, case.reason);
            let rsp = run_function(protocol, channel.clone(), case.request.clone())
                .await
                .unwrap_or_else(|status| panic!("{label}: {status:?}"));
            assert_eq!(rsp, expected(&case.request), "{label}: whole response");
            assert_starts_from_request(&case.request, &rsp, &label);
        }
    }
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_request_without_an_observed_composite_is_invalid_argument() {
    let cases = [
        (
            "no observed state",
            RunFunctionRequest {
                observed: None,
                ..request("t")
            },
        ),
        (
            "observed state without a composite",
            RunFunctionRequest {
                observed: Some(State::default()),
                ..request("t")
            },
        ),
        (
            "composite without a resource body",
            RunFunctionRequest {
                observed: Some(State {
                    composite: Some(Resource::default()),
                    ..Default::default()
                }),
                ..request("t")
            },
        ),
    ];
    let server = TestServer::start(insecure_config()).await;
    let channel = server.channel().await;
    for (name, req) in cases {
        for protocol in PROTOCOLS {
            let status = run_function(protocol, channel.clone(), req.clone())
                .await
                .expect_err(name);
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{name} over {protocol:?}"
            );
            assert_eq!(
                status.message(),
                "request has no observed composite resource",
                "{name} over {protocol:?}"
            );
        }
    }
}

#[tokio::test]
async fn health_reports_the_server_and_both_function_services_serving() {
    use tonic_health::pb::{
        health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
    };
    let server = TestServer::start(insecure_config()).await;
    let mut health = HealthClient::new(server.channel().await);
    for service in [
        "",
        "apiextensions.fn.proto.v1.FunctionRunnerService",
        "apiextensions.fn.proto.v1beta1.FunctionRunnerService",
    ] {
        let rsp = health
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .unwrap_or_else(|status| panic!("health of {service:?}: {status:?}"))
            .into_inner();
        assert_eq!(
            rsp.status(),
            ServingStatus::Serving,
            "health of {service:?}"
        );
    }
}

/// Lists the services one reflection version advertises; both versions share message shapes
/// under different modules.
macro_rules! list_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            ServerReflectionRequest,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::once(request))
            .await
            .expect("reflection call")
            .into_inner();
        let answer = answers
            .message()
            .await
            .expect("reflection answer")
            .expect("one answer");
        match answer.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
                names.sort();
                names
            }
            other => panic!("not a service list: {other:?}"),
        }
    }};
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_both_function_services() {
    let server = TestServer::start(insecure_config()).await;
    let channel = server.channel().await;
    let want = [
        "apiextensions.fn.proto.v1.FunctionRunnerService",
        "apiextensions.fn.proto.v1beta1.FunctionRunnerService",
        "grpc.health.v1.Health",
    ];
    for (version, listed) in [
        ("v1", list_services!(v1, channel.clone())),
        ("v1alpha", list_services!(v1alpha, channel.clone())),
    ] {
        for service in want {
            assert!(
                listed.iter().any(|name| name == service),
                "reflection {version} lists {service}: {listed:?}"
            );
        }
    }
}

#[tokio::test]
async fn undecodable_bytes_get_an_error_status_and_the_server_keeps_serving() {
    let valid = request("t").encode_to_vec();
    let cases: [(&str, Vec<u8>); 4] = [
        (
            "garbage",
            b"\xff\xfe\xfd not protobuf at all \x00\x01".to_vec(),
        ),
        ("truncated request", valid[..valid.len() / 2].to_vec()),
        (
            "field 2 claims more bytes than follow",
            vec![0x12, 0xff, 0xff, 0xff, 0x0f, 0x0a],
        ),
        ("invalid wire type", vec![0x0f, 0x00]),
    ];
    let server = TestServer::start(insecure_config()).await;
    let channel = server.channel().await;
    for (name, body) in cases {
        for path in [V1_RUN_FUNCTION, V1BETA1_RUN_FUNCTION] {
            let status = call_raw(channel.clone(), path, body.clone())
                .await
                .expect_err(name);
            // What a stock tonic server answers bytes prost cannot decode.
            assert_eq!(
                status.code(),
                Code::Internal,
                "{name} on {path}: {status:?}"
            );
        }

        let good = request("after-bad-input");
        let rsp = run_function(Protocol::V1, channel.clone(), good.clone())
            .await
            .unwrap_or_else(|status| panic!("good call after {name}: {status:?}"));
        assert_eq!(rsp, expected(&good), "good call after {name}");
    }
}

#[tokio::test]
async fn a_method_the_function_services_do_not_have_is_unimplemented() {
    let server = TestServer::start(insecure_config()).await;
    let channel = server.channel().await;
    for path in [
        "/apiextensions.fn.proto.v1.FunctionRunnerService/Other",
        "/apiextensions.fn.proto.v1beta1.FunctionRunnerService/Other",
    ] {
        let status = call_raw(channel.clone(), path, request("t").encode_to_vec())
            .await
            .expect_err(path);
        assert_eq!(status.code(), Code::Unimplemented, "{path}: {status:?}");
    }
    server.stop().await.expect("clean shutdown");
}

/// A valid request padded with `bytes` of connection details on an earlier desired resource.
fn request_of_at_least(bytes: usize) -> RunFunctionRequest {
    let mut req = request_after_earlier_step("big");
    let desired = req.desired.get_or_insert_with(State::default);
    desired.resources.insert(
        "padding".to_string(),
        Resource {
            resource: Some(json_to_struct(
                &json!({"apiVersion": "v1", "kind": "Secret"}),
            )),
            connection_details: BTreeMap::from([("blob".to_string(), vec![b'x'; bytes])]),
            ready: 0,
        },
    );
    req
}

#[tokio::test]
async fn a_request_above_the_limit_is_resource_exhausted_and_the_server_keeps_serving() {
    const MIB: usize = 1024 * 1024;
    struct Case {
        name: &'static str,
        flags: &'static [&'static str],
        too_big: usize,
        just_fits: usize,
    }
    let cases = [
        Case {
            name: "default 16 MiB limit",
            flags: &["--insecure"],
            too_big: 17 * MIB,
            just_fits: 15 * MIB,
        },
        Case {
            name: "--max-recv-message-size 1 MiB",
            flags: &["--insecure", "--max-recv-message-size", "1048576"],
            too_big: 2 * MIB,
            just_fits: MIB / 2,
        },
    ];
    for case in cases {
        let server = TestServer::start(config_from_flags(case.flags)).await;
        let channel = server.channel().await;
        for protocol in PROTOCOLS {
            let label = format!("{} over {protocol:?}", case.name);
            let status = run_function(protocol, channel.clone(), request_of_at_least(case.too_big))
                .await
                .expect_err(&label);
            assert_eq!(
                status.code(),
                Code::ResourceExhausted,
                "{label}: {status:?}"
            );

            let fits = request_of_at_least(case.just_fits);
            let rsp = run_function(protocol, channel.clone(), fits.clone())
                .await
                .unwrap_or_else(|status| panic!("{label}: request under the limit: {status:?}"));
            assert_eq!(rsp, expected(&fits), "{label}: request under the limit");
        }
        server.stop().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn six_mib_of_earlier_desired_state_is_served_intact() {
    // Many ordinary resources rather than one blob: the size of a long pipeline's state.
    let mut req = request_after_earlier_step("large-state");
    let desired = req.desired.get_or_insert_with(State::default);
    let data: serde_json::Map<String, serde_json::Value> = (0..40)
        .map(|i| {
            (
                format!("key-{i:02}"),
                json!(format!("{i:02}-{}", "v".repeat(90))),
            )
        })
        .collect();
    for i in 0..1500 {
        desired.resources.insert(
            format!("earlier-{i:04}"),
            resource(&json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"labels": {"index": i.to_string()}},
                "data": data,
            })),
        );
    }
    assert!(req.encoded_len() > 6 * 1024 * 1024, "request is over 6 MiB");

    let server = TestServer::start(insecure_config()).await;
    let channel = server.channel().await;
    for protocol in PROTOCOLS {
        let rsp = run_function(protocol, channel.clone(), req.clone())
            .await
            .unwrap_or_else(|status| panic!("{protocol:?}: {status:?}"));
        assert_starts_from_request(&req, &rsp, &format!("{protocol:?}"));
        assert_eq!(rsp, expected(&req), "{protocol:?}: whole response");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_concurrent_calls_all_succeed() {
    let server = TestServer::start(insecure_config()).await;
    // Two connections, so calls interleave within and across connections.
    let channels = [server.channel().await, server.channel().await];
    let calls: Vec<_> = (0..300)
        .map(|i| {
            let protocol = PROTOCOLS[i % 2];
            let channel = channels[i / 2 % 2].clone();
            let req = request_after_earlier_step(&format!("call-{i}"));
            tokio::spawn(async move {
                let rsp = run_function(protocol, channel, req.clone()).await;
                (i, req, rsp)
            })
        })
        .collect();
    for call in calls {
        let (i, req, rsp) = call.await.expect("call task");
        let rsp = rsp.unwrap_or_else(|status| panic!("call {i}: {status:?}"));
        assert_eq!(rsp, expected(&req), "call {i}: whole response");
    }
    server.stop().await.expect("clean shutdown");
}
