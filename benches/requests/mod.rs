//! The RunFunction requests the benchmarks and the load generator send, built the way
//! Crossplane builds them: an observed XR carrying claim labels and a spec, observed
//! provider-kubernetes Objects once the resources exist, and earlier steps' desired state.
//!
//! Shared by `benches/compose.rs` and `examples/loadgen.rs`, so both measure the same inputs,
//! and by the tests, whose requests start from the same minimal claim XR.

use function_event_driven_service::{
    compose::KEYS,
    document::convert::json_to_struct,
    function,
    offline::render,
    proto::v1::{RequestMeta, Resource, RunFunctionRequest, State},
};
use prost::Message;
use serde_json::{json, Value};
use std::{collections::BTreeMap, time::Duration};

/// The TTL the server defaults to; the benchmarks call `run` with it as the server does.
pub const TTL: Duration = Duration::from_secs(60);

/// Tag of the requests the benchmarks and the load generator send.
const TAG: &str = "benchmark";

/// The XR of the minimal claim; the example users pass to `crossplane render`.
const MINIMAL_XR: &str = include_str!("../../examples/xr.yaml");

/// The claim with every field set; kept in step with the example users read.
const FULL_CLAIM: &str = include_str!("../../examples/full-claim.yaml");

/// The seed design's reference claim: the fields a patch-and-transform Composition can compose.
const AGENT_EXECUTOR_CLAIM: &str = include_str!("../../examples/agent-executor-claim.yaml");

/// Size of the earlier steps' desired state in the pass-through case.
pub const PASS_THROUGH_BYTES: usize = 1024 * 1024;

/// One kind of request, from the cheapest to the most expensive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Image, size and JetStream names only; nothing observed yet (the first reconcile).
    Minimal,
    /// Every field of `examples/full-claim.yaml`; nothing observed yet.
    Full,
    /// The full claim with this many `secretRefs`, and all four resources observed ready.
    Observed(usize),
    /// The minimal claim after earlier pipeline steps left ~1 MiB of desired state.
    PassThrough,
}

impl Case {
    /// Every case by its short name: the benchmark's id and the load generator's `--case`.
    pub const NAMED: [(&'static str, Case); 5] = [
        ("minimal", Case::Minimal),
        ("full", Case::Full),
        ("observed", Case::Observed(2)),
        ("secrets64", Case::Observed(64)),
        ("passthrough", Case::PassThrough),
    ];

    /// The request of this case.
    pub fn request(self) -> RunFunctionRequest {
        match self {
            Case::Minimal => request(TAG, &minimal_xr()),
            Case::Full => request(TAG, &full_xr()),
            Case::Observed(secret_refs) => observed(with_secret_refs(full_xr(), secret_refs)),
            Case::PassThrough => pass_through(request(TAG, &minimal_xr()), PASS_THROUGH_BYTES),
        }
    }
}

/// The observed XR of `examples/minimal-claim.yaml` as Crossplane creates it for the claim.
pub fn minimal_xr() -> Value {
    serde_yaml::from_str(MINIMAL_XR)
        .unwrap_or_else(|e| unreachable!("examples/xr.yaml is checked by the tests: {e}"))
}

/// The observed XR of `examples/full-claim.yaml`, labelled as Crossplane labels a claim's XR.
pub fn full_xr() -> Value {
    claim_xr(FULL_CLAIM)
}

/// The observed XR of `examples/agent-executor-claim.yaml`: four Objects, secrets in slots.
#[allow(dead_code)] // only the load generator's peers use it
pub fn agent_executor_xr() -> Value {
    claim_xr(AGENT_EXECUTOR_CLAIM)
}

/// The XR of an example claim (checked by the tests), as Crossplane creates it.
fn claim_xr(yaml: &str) -> Value {
    let claim: Value = serde_yaml::from_str(yaml)
        .unwrap_or_else(|e| unreachable!("the example claims are checked by the tests: {e}"));
    render::to_composite(&claim, false)
        .unwrap_or_else(|e| unreachable!("the example claims are valid: {e:?}"))
}

/// `xr` with `n` `secretRefs`: every third mounted whole, the others mapping two keys each.
pub fn with_secret_refs(mut xr: Value, n: usize) -> Value {
    let refs: Vec<Value> = (0..n)
        .map(|i| {
            let name = format!("worker-secret-{i:03}");
            if i % 3 == 0 {
                json!({"name": name, "envFrom": true})
            } else {
                json!({"name": name, "env": [
                    {"secretKey": "username", "envName": format!("SECRET_{i:03}_USER")},
                    {"secretKey": "password", "envName": format!("SECRET_{i:03}_PASSWORD")},
                ]})
            }
        })
        .collect();
    xr["spec"]["secretRefs"] = Value::Array(refs);
    xr
}

/// A request tagged `tag` for `xr`, as the first pipeline step receives it.
pub fn request(tag: &str, xr: &Value) -> RunFunctionRequest {
    RunFunctionRequest {
        meta: Some(RequestMeta {
            tag: tag.to_string(),
            ..Default::default()
        }),
        observed: Some(State {
            composite: Some(resource(xr)),
            resources: BTreeMap::new(),
        }),
        ..Default::default()
    }
}

/// A resource wrapping `value`.
pub fn resource(value: &Value) -> Resource {
    Resource {
        resource: Some(json_to_struct(value)),
        ..Default::default()
    }
}

/// The request of a steady reconcile: the four Objects exist as this function composed them,
/// each Ready, with the live Deployment and ScaledObject (status included) under
/// `status.atProvider.manifest`, and the XR carrying the conditions of the previous reconcile.
/// Observed state therefore grows with the claim, as it does in a cluster.
pub fn observed(mut xr: Value) -> RunFunctionRequest {
    let desired = function::run(&request(TAG, &xr), TTL)
        .ok()
        .and_then(|rsp| rsp.desired)
        .unwrap_or_default();
    xr["status"] = json!({
        "replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
        "conditions": [
            {"type": "DeploymentAvailable", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "ScalerReady", "status": "True", "reason": "ScaledObjectReady"},
            {"type": "Ready", "status": "True", "reason": "Available"},
            {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
        ],
    });
    let mut req = request(TAG, &xr);
    let observed = req.observed.get_or_insert_with(State::default);
    for key in KEYS {
        let Some(mut object) = desired
            .resources
            .get(key)
            .and_then(|r| r.resource.as_ref())
            .map(function_event_driven_service::document::convert::struct_to_json)
        else {
            continue;
        };
        let mut manifest = object["spec"]["forProvider"]["manifest"].take();
        manifest["metadata"]["uid"] = json!(format!("0b4c1d2e-{key}"));
        manifest["metadata"]["resourceVersion"] = json!("48213");
        if let Some(status) = live_status(key) {
            manifest["status"] = status;
        }
        object["spec"]["forProvider"]["manifest"] = manifest.clone();
        object["metadata"] = json!({
            "name": format!("simple-worker-{key}-9dlpw"),
            "annotations": {"crossplane.io/composition-resource-name": key},
        });
        object["status"] = json!({
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Available"},
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            ],
            "atProvider": {"manifest": manifest},
        });
        observed
            .resources
            .insert(key.to_string(), resource(&object));
    }
    req
}

/// What the cluster reports in `status` of the live Deployment and ScaledObject.
fn live_status(key: &str) -> Option<Value> {
    match key {
        "deployment" => Some(json!({
            "observedGeneration": 3,
            "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": "ReplicaSet \"order-processor-6d4cf56db6\" has successfully progressed."},
            ],
        })),
        "scaledobject" => Some(json!({
            "scaleTargetKind": "apps/v1.Deployment",
            "originalReplicaCount": 2,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "ScaledObjectReady",
                 "message": "ScaledObject is defined correctly and is ready for scaling"},
                {"type": "Active", "status": "False", "reason": "ScalerNotActive",
                 "message": "Scaling is not performed because triggers are not active"},
                {"type": "Fallback", "status": "False", "reason": "NoFallbackFound",
                 "message": "No fallbacks are defined to be used"},
                {"type": "Paused", "status": "False", "reason": "ScaledObjectUnpaused"},
            ],
        })),
        _ => None,
    }
}

/// `req` after earlier pipeline steps composed ConfigMaps of 32 KiB each until their desired
/// state reaches `bytes` on the wire, plus an XR status and pipeline context of their own.
pub fn pass_through(mut req: RunFunctionRequest, bytes: usize) -> RunFunctionRequest {
    let mut desired = State {
        composite: Some(resource(&json!({
            "apiVersion": "platform.bizmatters.io/v1alpha1",
            "kind": "XEventDrivenService",
            "status": {"phase": "from-earlier-step"},
        }))),
        resources: BTreeMap::new(),
    };
    let value = "x".repeat(1024);
    let mut i = 0;
    while desired.encoded_len() < bytes {
        let data: serde_json::Map<String, Value> = (0..32)
            .map(|k| (format!("key-{k:02}"), Value::String(value.clone())))
            .collect();
        desired.resources.insert(
            format!("earlier-configmap-{i:03}"),
            Resource {
                resource: Some(json_to_struct(&json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": format!("earlier-{i:03}"), "namespace": "workers"},
                    "data": data,
                }))),
                connection_details: BTreeMap::from([("token".to_string(), b"s3cr3t".to_vec())]),
                ready: 1,
            },
        );
        i += 1;
    }
    req.desired = Some(desired);
    req.context = Some(json_to_struct(
        &json!({"apiextensions.crossplane.io/environment": {"region": "eu-west-1"}}),
    ));
    req
}
