//! Table tests of `function::run`: each named case with a reason, each comparing the WHOLE
//! response (as a reviewed snapshot under tests/snapshots/).

// The minimal claim's XR, the request around it and the benchmarks' requests; not every helper.
#[allow(dead_code)]
#[path = "../benches/requests/mod.rs"]
mod requests;

use function_event_driven_service::{
    document::convert,
    function::{run, Malformed},
    proto::v1::{
        Capability, Ready, Resource, ResourceSelector, Resources, RunFunctionRequest,
        RunFunctionResponse, Severity, State,
    },
};
use prost::Message;
use requests::resource;
use serde_json::{json, Value};
use std::{collections::BTreeMap, time::Duration};

const TTL: Duration = Duration::from_secs(60);

/// The minimal claim's XR with `spec` in place of its own.
fn claim_xr(spec: Value) -> Value {
    let mut xr = requests::minimal_xr();
    xr["spec"] = spec;
    xr
}

fn minimal_spec() -> Value {
    requests::minimal_xr()["spec"].take()
}

fn request(xr: Value) -> RunFunctionRequest {
    requests::request("tag-1", &xr)
}

fn with_observed(mut req: RunFunctionRequest, observed: &[(&str, Value)]) -> RunFunctionRequest {
    if let Some(o) = req.observed.as_mut() {
        for (key, value) in observed {
            o.resources.insert((*key).to_string(), resource(value));
        }
    }
    req
}

/// An earlier pipeline step's desired state: a resource of its own, an XR status field,
/// and a readiness it already decided for our Service.
fn earlier_step(mut req: RunFunctionRequest) -> RunFunctionRequest {
    let mut resources = BTreeMap::new();
    resources.insert(
        "database".to_string(),
        Resource {
            resource: Some(convert::json_to_struct(
                &json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            )),
            connection_details: BTreeMap::from([("password".to_string(), b"s3cret".to_vec())]),
            ready: Ready::True.into(),
        },
    );
    resources.insert(
        "service".to_string(),
        Resource {
            ready: Ready::False.into(),
            ..Default::default()
        },
    );
    req.desired = Some(State {
        composite: Some(resource(&json!({"status": {"database": "ready"}}))),
        resources,
    });
    req.context = Some(convert::json_to_struct(
        &json!({"apiextensions.crossplane.io/environment": {"region": "eu"}}),
    ));
    req
}

/// An observed provider-kubernetes Object with its Ready condition and live manifest.
fn object(ready: &str, manifest: Value) -> Value {
    json!({
        "apiVersion": "kubernetes.crossplane.io/v1alpha2",
        "kind": "Object",
        "metadata": {"name": "simple-worker-7x2kq-abcde"},
        "status": {
            "conditions": [
                {"type": "Ready", "status": ready, "reason": if ready == "True" { "Available" } else { "Unavailable" }},
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            ],
            "atProvider": {"manifest": manifest},
        },
    })
}

fn deployment(available: &str, reason: &str, message: &str, ready_replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {"replicas": 2},
        "status": {
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": ready_replicas,
            "availableReplicas": ready_replicas,
            "conditions": [
                {"type": "Available", "status": available, "reason": reason, "message": message},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        },
    })
}

fn scaled_object(ready: &str, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "status": {"conditions": [
            {"type": "Ready", "status": ready, "reason": reason, "message": message},
            {"type": "Active", "status": "False", "reason": "ScalerNotActive", "message": "Scaling is not performed because triggers are not active"},
            {"type": "Fallback", "status": "False", "reason": "NoFallbackFound"},
            {"type": "Paused", "status": "False", "reason": "ScaledObjectUnpaused"},
        ]},
    })
}

fn healthy() -> Vec<(&'static str, Value)> {
    vec![
        (
            "serviceaccount",
            object(
                "True",
                json!({"apiVersion": "v1", "kind": "ServiceAccount"}),
            ),
        ),
        (
            "service",
            object("True", json!({"apiVersion": "v1", "kind": "Service"})),
        ),
        (
            "deployment",
            object(
                "True",
                deployment(
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    2,
                ),
            ),
        ),
        (
            "scaledobject",
            object(
                "True",
                scaled_object(
                    "True",
                    "ScaledObjectReady",
                    "ScaledObject is defined correctly and is ready for scaling",
                ),
            ),
        ),
    ]
}

fn trigger_error() -> Value {
    object(
        "False",
        scaled_object(
            "False",
            "TriggerError",
            "Triggers defined in ScaledObject are not working correctly",
        ),
    )
}

/// The observed XR as the previous reconcile left it, with both conditions at `status`.
fn xr_with_conditions(deployment: &str, scaler: &str) -> Value {
    let mut xr = claim_xr(minimal_spec());
    xr["status"] = json!({"conditions": [
        {"type": "DeploymentAvailable", "status": deployment, "reason": "x"},
        {"type": "ScalerReady", "status": scaler, "reason": "x"},
        {"type": "Ready", "status": "True", "reason": "Available"},
    ]});
    xr
}

/// The response in a reviewable form: structs as JSON, enums by name, bytes as text.
fn readable(rsp: &RunFunctionResponse) -> Value {
    let state = |s: &Option<State>| {
        s.as_ref().map(|s| {
            let res = |r: &Resource| {
                json!({
                    "resource": r.resource.as_ref().map(convert::struct_to_json),
                    "connectionDetails": r.connection_details.iter()
                        .map(|(k, v)| (k.clone(), Value::String(String::from_utf8_lossy(v).into())))
                        .collect::<serde_json::Map<_, _>>(),
                    "ready": r.ready().as_str_name(),
                })
            };
            json!({
                "composite": s.composite.as_ref().map(res),
                "resources": s.resources.iter().map(|(k, r)| (k.clone(), res(r))).collect::<serde_json::Map<_, _>>(),
            })
        })
    };
    let mut readable = json!({
        "meta": rsp.meta.as_ref().map(|m| json!({"tag": m.tag, "ttl": m.ttl.as_ref().map(|t| t.seconds)})),
        "desired": state(&rsp.desired),
        "results": rsp.results.iter().map(|r| json!({
            "severity": r.severity().as_str_name(),
            "reason": r.reason,
            "target": r.target.map(|_| r.target().as_str_name()),
            "message": r.message,
        })).collect::<Vec<_>>(),
        "conditions": rsp.conditions.iter().map(|c| json!({
            "type": c.r#type,
            "status": c.status().as_str_name(),
            "reason": c.reason,
            "message": c.message,
            "target": c.target.map(|_| c.target().as_str_name()),
        })).collect::<Vec<_>>(),
        "context": rsp.context.as_ref().map(convert::struct_to_json),
    });
    if let Some(requirements) = &rsp.requirements {
        let selectors = |m: &BTreeMap<String, ResourceSelector>| {
            m.iter()
                .map(|(k, s)| {
                    (
                        k.clone(),
                        json!(format!(
                            "{} {} {:?} {:?}",
                            s.api_version, s.kind, s.namespace, s.r#match
                        )),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
        };
        readable["requirements"] = json!({
            "resources": selectors(&requirements.resources),
            "extraResources": selectors(&requirements.extra_resources),
        });
    }
    readable
}

/// The spec of `examples/scaling-claim.yaml`: a declared consumer, KEDA's policy knobs, a
/// pause, and rollouts that follow a Secret and a ConfigMap.
fn scaling_spec() -> Value {
    let claim: Value = serde_yaml::from_str(include_str!("../examples/scaling-claim.yaml"))
        .expect("the scaling example is YAML");
    claim["spec"].clone()
}

/// A request from Crossplane that announces required resources, answering `answers` (key →
/// the object, or `None` for one that does not exist).
fn answered(xr: Value, answers: &[(&str, Option<Value>)]) -> RunFunctionRequest {
    let mut req = request(xr);
    if let Some(meta) = req.meta.as_mut() {
        meta.capabilities = vec![Capability::RequiredResources.into()];
    }
    for (key, object) in answers {
        req.required_resources.insert(
            (*key).to_string(),
            Resources {
                items: object.iter().map(resource).collect(),
            },
        );
    }
    req
}

fn ledger_secret(url: &str) -> Option<Value> {
    Some(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "payment-settler-ledger", "namespace": "default"}, "data": {"LEDGER_URL": url}}),
    )
}

fn settings_config_map() -> Option<Value> {
    Some(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "payment-settler-settings", "namespace": "default"}, "data": {"CURRENCY": "EUR"}}),
    )
}

/// A Crossplane v2 namespaced XR with `spec`.
fn namespaced_xr(spec: Value) -> Value {
    json!({
        "apiVersion": "platform.bizmatters.io/v1alpha1",
        "kind": "EventDrivenService",
        "metadata": {"name": "ledger", "namespace": "finance"},
        "spec": spec,
    })
}

/// The observed XR carrying `conditions` from the previous reconcile.
fn xr_carrying(spec: Value, conditions: Value) -> Value {
    let mut xr = claim_xr(spec);
    xr["status"] = json!({"conditions": conditions});
    xr
}

/// A live Direct Deployment KEDA scaled to `desired`, `available` of them up.
fn scaled_deployment(
    desired: i64,
    updated: i64,
    available: i64,
    generation: i64,
    observed: i64,
) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"generation": generation},
        "spec": {"replicas": desired},
        "status": {
            "observedGeneration": observed,
            "replicas": updated,
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
        },
    })
}

/// NACK's Consumer as it reports itself.
fn nack_consumer(ready: &str, generation: i64, observed: i64) -> Value {
    json!({
        "apiVersion": "jetstream.nats.io/v1beta2",
        "kind": "Consumer",
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "conditions": [{"type": "Ready", "status": ready, "reason": if ready == "True" { "Created" } else { "Errored" },
                "message": if ready == "True" { "Consumer successfully created" } else { "nats: API error: code=400 err_code=10116 description=max deliver is required to be > length of backoff values" }}],
        },
    })
}

struct Case {
    name: &'static str,
    reason: &'static str,
    req: RunFunctionRequest,
}

fn input(v: Value) -> Option<prost_types::Struct> {
    let mut full =
        json!({"apiVersion": "eventdrivenservice.fn.bizmatters.io/v1beta1", "kind": "Input"});
    if let (Some(full), Some(v)) = (full.as_object_mut(), v.as_object()) {
        full.extend(v.clone());
    }
    Some(convert::json_to_struct(&full))
}

fn cases() -> Vec<Case> {
    let mut full_spec = minimal_spec();
    full_spec["secret1Name"] = json!("worker-config");
    full_spec["secretRefs"] = json!([
        {"name": "worker-db-conn", "env": [{"secretKey": "password", "envName": "DB_PASSWORD"}]},
        {"name": "worker-llm-keys", "envFrom": true},
    ]);
    full_spec["imagePullSecrets"] = json!([{"name": "ghcr-pull-secret"}]);
    full_spec["initContainer"] = json!({"command": ["./migrate"]});
    // Numbers arrive as doubles from a protobuf Struct.
    full_spec["scaling"] =
        json!({"minReplicas": 0.0, "maxReplicas": 3.0, "activationLagThreshold": 2.0});
    full_spec["nats"]["useHttps"] = json!(true);

    let bad_spec = json!({
        "image": "ghcr.io/org/worker",
        "size": "xlarge",
        "sise": "small",
        "nats": {"consumer": "c", "monitoringEndpoint": "http://nats:8222"},
        "secret1Name": "Bad_Name",
        "secretRefs": [
            {"name": "db", "env": [{"secretKey": "a", "envName": "1BAD"}, {"secretKey": "b", "envName": "NATS_URL"}]},
            {"name": "both", "envFrom": true, "env": [{"secretKey": "c", "envName": "C"}]},
            {"name": "neither"},
        ],
        "scaling": {"minReplicas": 5, "maxReplicas": 2, "lagThreshold": 2.5},
    });

    // Every worker knob; numbers as doubles, as a protobuf Struct carries them.
    let mut knobs_spec = minimal_spec();
    let knobs = json!({
        "command": ["./app"],
        "args": ["worker", "--queue=jobs"],
        "env": {"LOG_LEVEL": "info", "APP_MODE": "batch"},
        "configMapRefs": [
            {"name": "worker-config", "envFrom": true},
            {"name": "feature-flags", "env": [{"configMapKey": "flags", "envName": "FEATURE_FLAGS"}]},
        ],
        "files": [
            {"mountPath": "/etc/nats", "secret": "nats-creds", "items": [{"key": "user.creds", "path": "user.creds"}]},
            {"mountPath": "/etc/app", "configMap": "app-files"},
        ],
        "tmpDirs": ["/tmp"],
        "readOnlyRootFilesystem": true,
        "port": 9000.0,
        "probes": {
            "liveness": {"grpc": {"service": "worker"}, "periodSeconds": 20.0},
            "readiness": {"enabled": false},
            "startup": {"exec": {"command": ["./app", "ready"]}, "failureThreshold": 30.0},
        },
        "podAnnotations": {"prometheus.io/scrape": "true"},
        "podLabels": {"team": "payments"},
        "serviceAccount": {"annotations": {"iam.gke.io/gcp-service-account": "worker@project.iam.gserviceaccount.com"}},
        "scheduling": {
            "nodeSelector": {"kubernetes.io/arch": "arm64"},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100.0, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "ledger"}}}},
            ]}},
            "priorityClassName": "workers-high",
            "spread": "host",
        },
        "disruptionBudget": {"minAvailable": "50%"},
        "shutdown": {"gracePeriodSeconds": 120.0, "preStopSleepSeconds": 5.0},
    });
    if let (Some(spec), Value::Object(knobs)) = (knobs_spec.as_object_mut(), knobs) {
        spec.extend(knobs);
    }
    let knobs_xr = json!({
        "apiVersion": "platform.bizmatters.io/v1alpha1",
        "kind": "EventDrivenService",
        "metadata": {"name": "ledger", "namespace": "finance"},
        "spec": knobs_spec,
    });
    let mut no_service = minimal_spec();
    no_service["service"] = json!({"enabled": false});
    no_service["probes"] = json!({"liveness": {"exec": {"command": ["./healthcheck"]}}, "readiness": {"enabled": false}});
    let platform_defaults = json!({"defaults": {
        "readOnlyRootFilesystem": true,
        "tmpDirs": ["/tmp"],
        "scheduling": {"spread": "zone"},
        "shutdown": {"gracePeriodSeconds": 60.0, "preStopSleepSeconds": 5.0},
        "disruptionBudget": {"maxUnavailable": "25%"},
    }});
    let mut overriding = minimal_spec();
    overriding["readOnlyRootFilesystem"] = json!(false);
    overriding["tmpDirs"] = json!(["/scratch"]);
    overriding["scheduling"] = json!({"spread": "none"});
    overriding["shutdown"] = json!({"gracePeriodSeconds": 90.0});
    overriding["disruptionBudget"] = json!({"enabled": false});
    let mut conflicting = minimal_spec();
    conflicting["files"] = json!([{"mountPath": "/tmp/creds", "secret": "creds"}]);
    conflicting["shutdown"] = json!({"preStopSleepSeconds": 40.0});
    let mut bad_knobs = minimal_spec();
    let bad = json!({
        "env": {"1BAD": "x", "NATS_URL": "y", "DB_PASSWORD": "z"},
        "secretRefs": [{"name": "db", "env": [{"secretKey": "p", "envName": "DB_PASSWORD"}]}],
        "configMapRefs": [{"name": "neither"}, {"name": "cfg", "env": [{"configMapKey": "bad key", "envName": "OK"}]}],
        "files": [
            {"mountPath": "/etc/app", "secret": "s", "configMap": "c"},
            {"mountPath": "etc/relative", "secret": "s"},
            {"mountPath": "/etc/app/nested", "configMap": "c", "items": [{"key": "k", "path": "../escape"}]},
        ],
        "tmpDirs": ["/tmp", "/tmp/"],
        "port": 70000,
        "probes": {"liveness": {"httpGet": {}, "tcpSocket": {}}, "readiness": {"enabled": false, "periodSeconds": 5}},
        "podLabels": {"app.kubernetes.io/name": "other", "bad key!": "v", "team": "not a value"},
        "podAnnotations": {"/nope": "x"},
        "scheduling": {
            "tolerations": [{"operator": "Exists", "value": "x"}, {"operator": "Equal", "value": "y"}],
            "affinity": {"nodeAfinity": {}},
            "spread": "rack",
        },
        "disruptionBudget": {"maxUnavailable": "150%", "minAvailable": 1},
        "shutdown": {"gracePeriodSeconds": 10, "preStopSleepSeconds": 10},
    });
    if let (Some(spec), Value::Object(bad)) = (bad_knobs.as_object_mut(), bad) {
        spec.extend(bad);
    }

    let mut long_name = claim_xr(minimal_spec());
    long_name["metadata"]["labels"]["crossplane.io/claim-name"] = json!("a".repeat(48));

    let mut unlabelled = claim_xr(minimal_spec());
    unlabelled["metadata"]["labels"] = json!({});

    let namespaced = namespaced_xr(minimal_spec());

    let mut direct_observed = vec![
        (
            "serviceaccount",
            json!({"apiVersion": "v1", "kind": "ServiceAccount"}),
        ),
        ("service", json!({"apiVersion": "v1", "kind": "Service"})),
        (
            "deployment",
            deployment(
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                2,
            ),
        ),
        (
            "scaledobject",
            scaled_object(
                "False",
                "TriggerError",
                "Triggers defined in ScaledObject are not working correctly",
            ),
        ),
    ];
    direct_observed.sort_by_key(|(k, _)| *k);

    vec![
        Case {
            name: "minimal_claim",
            reason: "a minimal claim composes four v1alpha2 Objects with every default, nothing observed yet",
            req: request(claim_xr(minimal_spec())),
        },
        Case {
            name: "full_claim",
            reason: "every field reaches its manifest; whole doubles are accepted as integers",
            req: request(claim_xr(full_spec)),
        },
        Case {
            name: "earlier_steps_kept",
            reason: "an earlier step's resources, connection details, XR status, readiness and context survive",
            req: earlier_step(request(claim_xr(minimal_spec()))),
        },
        Case {
            name: "bad_spec",
            reason: "every mistake is listed in ONE Fatal and the desired state passes through untouched",
            req: earlier_step(request(claim_xr(bad_spec))),
        },
        Case {
            name: "missing_spec_fields",
            reason: "required fields are named with their paths",
            req: request(claim_xr(json!({"nats": {}}))),
        },
        Case {
            name: "name_too_long",
            reason: "a claim name that would push the ScaledObject name past KEDA's 54 characters is refused",
            req: request(long_name),
        },
        Case {
            name: "cluster_xr_without_claim",
            reason: "a cluster-scoped XR without claim labels cannot say where its resources go",
            req: request(unlabelled),
        },
        Case {
            name: "input_settings",
            reason: "the Input changes the ProviderConfig, NATS defaults, a size row and the TTL",
            req: {
                let mut req = request(claim_xr(minimal_spec()));
                req.input = input(json!({
                    "providerConfigRef": {"name": "in-cluster"},
                    "nats": {"url": "tls://nats.prod:4222", "monitoringEndpoint": "nats-mon.prod:8222", "account": "APP"},
                    "sizes": {"small": {"cpuRequest": "100m", "cpuLimit": "500m", "memoryRequest": "128Mi", "memoryLimit": "256Mi"}},
                    "ttl": "5m",
                }));
                req
            },
        },
        Case {
            name: "nats_account_id",
            reason: "an operator (JWT) deployment names the account by its public key: KEDA gets accountID",
            req: {
                let mut spec = minimal_spec();
                spec["nats"]["accountID"] = json!("ACSU3Q6LTLBVLGAQUONAGXJHVNWGSKKAUA7IY5TB4Z7PLEKSR5O6JTGR");
                request(claim_xr(spec))
            },
        },
        Case {
            name: "bad_input",
            reason: "Input mistakes are a Fatal naming the Input field",
            req: {
                let mut req = request(claim_xr(minimal_spec()));
                req.input = input(json!({"output": "Everything", "ttl": "often", "sizes": {"tiny": {}}}));
                req
            },
        },
        Case {
            name: "direct_for_claim",
            reason: "direct output needs a namespaced XR",
            req: {
                let mut req = request(claim_xr(minimal_spec()));
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
        Case {
            name: "observed_creating",
            reason: "Objects exist but report nothing yet: observed resources are not ready, conditions Unknown",
            req: with_observed(
                request(claim_xr(minimal_spec())),
                &[
                    ("serviceaccount", json!({"apiVersion": "kubernetes.crossplane.io/v1alpha2", "kind": "Object"})),
                    ("deployment", json!({"apiVersion": "kubernetes.crossplane.io/v1alpha2", "kind": "Object"})),
                ],
            ),
        },
        Case {
            name: "observed_healthy_first_time",
            reason: "all four ready, status from the Deployment and ScaledObject, conditions True, no events",
            req: with_observed(request(claim_xr(minimal_spec())), &healthy()),
        },
        Case {
            name: "observed_healthy_steady",
            reason: "a steady healthy reconcile produces no results at all",
            req: with_observed(request(xr_with_conditions("True", "True")), &healthy()),
        },
        Case {
            name: "observed_trigger_error",
            reason: "KEDA's trigger error makes the scaler not ready and warns once, as it was True before",
            req: {
                let mut observed = healthy();
                observed[3].1 = trigger_error();
                with_observed(request(xr_with_conditions("True", "True")), &observed)
            },
        },
        Case {
            name: "observed_trigger_error_steady",
            reason: "the same trigger error on the next reconcile warns no more",
            req: {
                let mut observed = healthy();
                observed[3].1 = trigger_error();
                with_observed(request(xr_with_conditions("True", "False")), &observed)
            },
        },
        Case {
            name: "observed_deployment_stuck",
            reason: "a Deployment past its progress deadline is not ready and carries its own reason",
            req: {
                let mut observed = healthy();
                observed[2].1 = object(
                    "False",
                    deployment("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", 0),
                );
                with_observed(request(xr_with_conditions("True", "True")), &observed)
            },
        },
        Case {
            name: "observed_recovered",
            reason: "both conditions recover from False: one Normal event each",
            req: with_observed(request(xr_with_conditions("False", "False")), &healthy()),
        },
        Case {
            name: "worker_knobs_namespaced_objects",
            reason: "every worker knob on a namespaced XR through namespaced Objects, the PodDisruptionBudget among them",
            req: request(knobs_xr.clone()),
        },
        Case {
            name: "worker_knobs_direct_observed",
            reason: "every worker knob composed directly; the observed PodDisruptionBudget is ready once it exists; the endpoint uses the port",
            req: {
                let observed = [(
                    "poddisruptionbudget",
                    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget"}),
                )];
                let mut req = with_observed(request(knobs_xr.clone()), &observed);
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
        Case {
            name: "worker_without_service",
            reason: "service.enabled false: no Service, no container port, no endpoint; an exec liveness probe and no readiness probe",
            req: request(claim_xr(no_service)),
        },
        Case {
            name: "platform_defaults",
            reason: "the Input's worker defaults reach a claim that sets none of them",
            req: {
                let mut req = request(claim_xr(minimal_spec()));
                req.input = input(platform_defaults.clone());
                req
            },
        },
        Case {
            name: "claim_overrides_platform_defaults",
            reason: "a claim's own values win; shutdown field by field; enabled false drops the platform's disruption budget",
            req: {
                let mut req = request(claim_xr(overriding));
                req.input = input(platform_defaults.clone());
                req
            },
        },
        Case {
            name: "platform_conflicts",
            reason: "a claim's file inside the platform's tmpDir, and a preStop sleep longer than the default grace period",
            req: {
                let mut req = request(claim_xr(conflicting));
                req.input = input(json!({"defaults": {"tmpDirs": ["/tmp"]}}));
                req
            },
        },
        Case {
            name: "platform_sleep_outlasts_claim_grace",
            reason: "the platform's preStop sleep is as long as the grace period the claim sets: the Input's field is the one named",
            req: {
                let mut spec = minimal_spec();
                spec["shutdown"] = json!({"gracePeriodSeconds": 5.0});
                let mut req = request(claim_xr(spec));
                req.input = input(json!({"defaults": {"shutdown": {"preStopSleepSeconds": 5.0}}}));
                req
            },
        },
        Case {
            name: "bad_platform_defaults",
            reason: "mistakes in the Input's worker defaults are named under input.defaults",
            req: {
                let mut req = request(claim_xr(minimal_spec()));
                req.input = input(json!({"defaults": {
                    "tmpDirs": ["/tmp", "/tmp/cache", "relative"],
                    "scheduling": {"spread": "everywhere"},
                    "shutdown": {"gracePeriodSeconds": 5.0, "preStopSleepSeconds": 10.0},
                    "disruptionBudget": {"maxUnavailable": 1.0, "minAvailable": "x%"},
                    "colour": "blue",
                }}));
                req
            },
        },
        Case {
            name: "bad_worker_knobs",
            reason: "every kind of mistake in the worker knobs, all in one Fatal with its path",
            req: request(claim_xr(bad_knobs)),
        },
        Case {
            name: "spec_valid_again",
            reason: "a spec the function refused before composes again: SpecValid turns True on XR and claim",
            req: {
                let mut xr = xr_with_conditions("True", "True");
                xr["status"]["conditions"][2] = json!({"type": "SpecValid", "status": "False", "reason": "InvalidSpec"});
                with_observed(request(xr), &healthy())
            },
        },
        Case {
            name: "observed_readiness_preset",
            reason: "a readiness an earlier step set is never overwritten",
            req: with_observed(earlier_step(request(claim_xr(minimal_spec()))), &healthy()),
        },
        Case {
            name: "namespaced_xr",
            reason: "a Crossplane v2 namespaced XR gets namespaced Objects in its own namespace",
            req: request(namespaced.clone()),
        },
        Case {
            name: "scaling_first_call",
            reason: "every scaling field: the NACK Consumer, KEDA's fallback, behavior and pause annotations; the referenced Secret and ConfigMap asked for (extra_resources: no capability announced); no hash yet; ConsumerReady Unknown",
            req: request(claim_xr(scaling_spec())),
        },
        Case {
            name: "scaling_config_answered",
            reason: "Crossplane answered with both objects: the hash of their data on the pod template, nothing of the data itself",
            req: answered(claim_xr(scaling_spec()), &[
                ("secret/payment-settler-ledger", ledger_secret("cG9zdGdyZXM6Ly9sZWRnZXI=")),
                ("configmap/payment-settler-settings", settings_config_map()),
            ]),
        },
        Case {
            name: "scaling_config_changed",
            reason: "the Secret's data changed: a different hash, which rolls the pods",
            req: answered(claim_xr(scaling_spec()), &[
                ("secret/payment-settler-ledger", ledger_secret("cG9zdGdyZXM6Ly9sZWRnZXItbmV3")),
                ("configmap/payment-settler-settings", settings_config_map()),
            ]),
        },
        Case {
            name: "scaling_config_missing",
            reason: "the Secret does not exist: ConfigMissing names it with one Warning, and the pods keep the hash they carry",
            req: {
                let mut live = scaled_deployment(2, 2, 2, 1, 1);
                live["spec"]["template"] = json!({"metadata": {"annotations": {"platform.bizmatters.io/config-hash": "0123abcd"}}});
                let mut req = answered(claim_xr(scaling_spec()), &[
                    ("secret/payment-settler-ledger", None),
                    ("configmap/payment-settler-settings", settings_config_map()),
                ]);
                req.input = None;
                with_observed(req, &[("deployment", object("True", live))])
            },
        },
        Case {
            name: "scaling_config_missing_steady",
            reason: "the Secret is still missing on the next reconcile: the condition stays, no second Warning",
            req: answered(
                xr_carrying(scaling_spec(), json!([{"type": "ConfigMissing", "status": "True", "reason": "NotFound"}])),
                &[
                    ("secret/payment-settler-ledger", None),
                    ("configmap/payment-settler-settings", settings_config_map()),
                ],
            ),
        },
        Case {
            name: "warnings_appear",
            reason: "lagThreshold below maxAckPending and a grace period shorter than ackWait: two conditions True, one Warning each",
            req: {
                let mut spec = minimal_spec();
                spec["nats"]["durableConsumer"] = json!({"ackWait": "2m", "maxAckPending": 50.0});
                spec["scaling"] = json!({"lagThreshold": 10.0});
                request(claim_xr(spec))
            },
        },
        Case {
            name: "warnings_steady",
            reason: "the same situations on the next reconcile: conditions stay True, no events",
            req: {
                let mut spec = minimal_spec();
                spec["nats"]["durableConsumer"] = json!({"ackWait": "2m", "maxAckPending": 50.0});
                spec["scaling"] = json!({"lagThreshold": 10.0});
                request(xr_carrying(spec, json!([
                    {"type": "LagBelowAckPending", "status": "True", "reason": "InFlightCountsAsLag"},
                    {"type": "GraceBelowAckWait", "status": "True", "reason": "ShutdownBeforeAckWait"},
                ])))
            },
        },
        Case {
            name: "warnings_resolved",
            reason: "the claim was fixed: the conditions the XR carries turn False, no events; NATS' default maxAckPending (1000) still warns against a lagThreshold of 5",
            req: {
                let mut spec = minimal_spec();
                spec["nats"]["durableConsumer"] = json!({"ackWait": "20s"});
                request(xr_carrying(spec, json!([
                    {"type": "LagBelowAckPending", "status": "True", "reason": "InFlightCountsAsLag"},
                    {"type": "GraceBelowAckWait", "status": "True", "reason": "ShutdownBeforeAckWait"},
                    {"type": "ConsumerNotDeclared", "status": "True", "reason": "ScaleFromZeroWithoutConsumer"},
                ])))
            },
        },
        Case {
            name: "scale_from_zero_without_consumer",
            reason: "minReplicas 0 and no declared consumer: ConsumerNotDeclared with one Warning",
            req: {
                let mut spec = minimal_spec();
                spec["scaling"] = json!({"minReplicas": 0.0});
                request(claim_xr(spec))
            },
        },
        Case {
            name: "consumer_observed",
            reason: "NACK reports the Consumer Ready: the Object is ready and ConsumerReady turns True; a Consumer refused by NATS would carry NATS' own message",
            req: {
                let mut observed = healthy();
                observed.push(("consumer", object("True", nack_consumer("True", 1, 1))));
                with_observed(request(claim_xr(scaling_spec())), &observed)
            },
        },
        Case {
            name: "consumer_refused_direct",
            reason: "Direct: NACK reports NATS' refusal; ConsumerReady False with its message and one Warning; a Ready for an older generation is not ready either",
            req: {
                let mut spec = scaling_spec();
                spec["rolloutOnConfigChange"] = json!(false);
                let mut req = with_observed(
                    request(namespaced_xr(spec)),
                    &[("consumer", nack_consumer("False", 2, 1))],
                );
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
        Case {
            name: "scaling_out_stays_ready",
            reason: "Direct: KEDA scaled out to 5 and 2 are available: the rollout is complete, so the Deployment stays ready; desiredReplicas shows the scale-out",
            req: {
                let mut req = with_observed(
                    request(namespaced_xr(minimal_spec())),
                    &[("deployment", scaled_deployment(5, 5, 2, 3, 3))],
                );
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
        Case {
            name: "consumer_ready_for_an_older_generation_direct",
            reason: "Direct: NACK's Ready is for generation 1 while the Consumer is at 2, so the consumer is not ready yet, though its condition says True",
            req: {
                let mut spec = scaling_spec();
                spec["rolloutOnConfigChange"] = json!(false);
                let mut req = with_observed(
                    request(namespaced_xr(spec)),
                    &[("consumer", nack_consumer("True", 2, 1))],
                );
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
        Case {
            name: "resource_triggers_at_zero",
            reason: "CPU and memory triggers beside the lag on a worker that may sleep at zero: three triggers, ResourceTriggersAtZero True with one Normal event",
            req: {
                let mut spec = minimal_spec();
                spec["scaling"] = json!({"minReplicas": 0.0, "cpuUtilization": 75.0, "memoryUtilization": 90.0});
                request(claim_xr(spec))
            },
        },
        Case {
            name: "storm_guard_holds_at_the_live_count_direct",
            reason: "Direct: the declared Consumer is not Ready yet and KEDA had scaled the worker to 3: KEDA is held at 3 (paused-replicas), ScalingHeld True with one Normal event",
            req: {
                let mut spec = minimal_spec();
                spec["nats"]["durableConsumer"] = json!({"ackWait": "30s", "maxAckPending": 5.0});
                let mut req = with_observed(
                    request(namespaced_xr(spec)),
                    &[
                        ("deployment", scaled_deployment(3, 3, 3, 1, 1)),
                        ("consumer", nack_consumer("False", 1, 1)),
                    ],
                );
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
        Case {
            name: "storm_guard_lifted_direct",
            reason: "Direct: NACK reports the Consumer Ready: the ScaledObject loses the pause annotations, ScalingHeld turns False, no event",
            req: {
                let mut spec = minimal_spec();
                spec["nats"]["durableConsumer"] = json!({"ackWait": "30s", "maxAckPending": 5.0});
                let mut xr = namespaced_xr(spec);
                xr["status"] = json!({"conditions": [
                    {"type": "ScalingHeld", "status": "True", "reason": "ConsumerNotReady"},
                ]});
                let mut req = with_observed(
                    request(xr),
                    &[
                        ("deployment", scaled_deployment(3, 3, 3, 1, 1)),
                        ("consumer", nack_consumer("True", 1, 1)),
                    ],
                );
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
        Case {
            name: "rollout_in_progress_direct",
            reason: "Direct: a new template not yet observed by the Deployment controller is not ready",
            req: {
                let mut req = with_observed(
                    request(namespaced_xr(minimal_spec())),
                    &[("deployment", scaled_deployment(2, 1, 2, 4, 3))],
                );
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
        Case {
            name: "bad_scaling",
            reason: "every kind of mistake in the scaling and consumer fields, all in one Fatal with its path",
            req: {
                let mut spec = minimal_spec();
                spec["nats"]["durableConsumer"] = json!({
                    "ackWait": "0s",
                    "maxDeliver": 2.0,
                    "filterSubjects": ["orders.>", "orders.created", "bad subject"],
                    "backoff": ["1m", "10s", "2 minutes"],
                });
                spec["scaling"] = json!({
                    "maxReplicas": 4.0,
                    "fallback": {"failureThreshold": 3.0, "replicas": 9.0, "behavior": "sometimes"},
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 7200.0, "policies": [{"type": "Replicas", "value": 0.0, "periodSeconds": 60.0}]}},
                    "pausedReplicas": 6.0,
                });
                request(claim_xr(spec))
            },
        },
        Case {
            name: "namespaced_direct_observed",
            reason: "direct output composes the kinds themselves; readiness per kind from their own status",
            req: {
                let mut req = with_observed(request(namespaced), &direct_observed);
                req.input = input(json!({"output": "Direct"}));
                req
            },
        },
    ]
}

#[test]
fn whole_responses() {
    for case in cases() {
        let rsp = run(&case.req, TTL).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        insta::with_settings!({description => case.reason, omit_expression => true}, {
            insta::assert_yaml_snapshot!(case.name, readable(&rsp));
        });
    }
}

#[test]
fn tag_and_desired_state_survive_every_outcome() {
    for case in cases() {
        let rsp = run(&case.req, TTL).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(
            rsp.meta.as_ref().map(|m| m.tag.as_str()),
            Some("tag-1"),
            "{}",
            case.name
        );
        let before = case.req.desired.clone().unwrap_or_default();
        let after = rsp.desired.unwrap_or_default();
        for (key, resource) in &before.resources {
            if ["serviceaccount", "deployment", "service", "scaledobject"].contains(&key.as_str()) {
                assert_eq!(
                    after.resources[key].ready, resource.ready,
                    "{}: readiness of {key}",
                    case.name
                );
            } else {
                assert_eq!(
                    after.resources.get(key),
                    Some(resource),
                    "{}: {key}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn same_request_same_bytes() {
    for case in cases() {
        let a = run(&case.req, TTL).map(|r| r.encode_to_vec());
        let b = run(&case.req, TTL).map(|r| r.encode_to_vec());
        assert_eq!(a, b, "{}", case.name);
    }
}

/// A benchmark that measured a refused claim would measure the wrong thing.
#[test]
fn every_benchmark_request_composes() {
    for (name, case) in requests::Case::NAMED {
        let rsp = run(&case.request(), TTL).unwrap_or_else(|e| panic!("{name}: {e}"));
        let messages: Vec<_> = rsp.results.iter().map(|r| &r.message).collect();
        assert!(
            rsp.results.iter().all(|r| r.severity() != Severity::Fatal),
            "{name}: {messages:?}"
        );
        assert!(
            rsp.desired
                .is_some_and(|d| d.resources.contains_key("deployment")),
            "{name}: composes a Deployment"
        );
    }
}

#[test]
fn requests_without_an_observed_xr_are_malformed() {
    assert_eq!(
        run(&RunFunctionRequest::default(), TTL),
        Err(Malformed::NoObservedComposite)
    );
}
