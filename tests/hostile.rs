//! Property tests: whatever JSON arrives as a spec or an Input, the function never panics and
//! answers either a whole composition or ONE Fatal whose every line names a field.

use function_event_driven_service::{
    document::convert,
    function::run,
    proto::v1::{Resource, RunFunctionRequest, Severity, State},
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Arbitrary JSON, biased towards the shapes and names a spec uses.
fn any_json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "image",
        "size",
        "nats",
        "stream",
        "consumer",
        "url",
        "secretRefs",
        "env",
        "envFrom",
        "name",
        "secretKey",
        "envName",
        "scaling",
        "minReplicas",
        "maxReplicas",
        "initContainer",
        "command",
        "args",
        "imagePullSecrets",
        "secret1Name",
        "sizes",
        "small",
        "cpuRequest",
        "ttl",
        "output",
        "providerConfigRef",
        "kind",
        "apiVersion",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "small",
            "xlarge",
            "ghcr.io/a/b:v1",
            "A_B",
            "a-b",
            "Direct",
            "1h",
            ""
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

/// A valid spec with one field replaced by arbitrary JSON: close to real mistakes.
fn mutated_spec() -> impl Strategy<Value = Value> {
    let fields = prop::sample::select(vec![
        "image",
        "size",
        "nats",
        "secretRefs",
        "scaling",
        "initContainer",
        "imagePullSecrets",
        "secret3Name",
    ]);
    (fields, any_json()).prop_map(|(field, value)| {
        let mut spec = json!({
            "image": "ghcr.io/org/w:v1",
            "nats": {"stream": "S", "consumer": "c"},
            "secretRefs": [{"name": "db", "env": [{"secretKey": "k", "envName": "K"}]}],
            "scaling": {"minReplicas": 1, "maxReplicas": 3},
        });
        spec[field] = value;
        spec
    })
}

/// A request for the claim `w` in namespace `ns`.
fn request(spec: Value, input: Option<Value>) -> RunFunctionRequest {
    let xr = json!({
        "apiVersion": "platform.bizmatters.io/v1alpha1",
        "kind": "XEventDrivenService",
        "metadata": {"name": "w-1", "labels": {"crossplane.io/claim-name": "w", "crossplane.io/claim-namespace": "ns"}},
        "spec": spec,
    });
    let earlier = Resource {
        resource: Some(convert::json_to_struct(&json!({"kind": "ConfigMap"}))),
        ..Default::default()
    };
    RunFunctionRequest {
        observed: Some(State {
            composite: Some(Resource {
                resource: Some(convert::json_to_struct(&xr)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        desired: Some(State {
            resources: [("earlier".to_string(), earlier)].into(),
            ..Default::default()
        }),
        input: input.map(|i| {
            let mut full = Map::new();
            full.insert(
                "apiVersion".into(),
                json!("eventdrivenservice.fn.bizmatters.io/v1beta1"),
            );
            full.insert("kind".into(), json!("Input"));
            if let Value::Object(m) = i {
                full.extend(m);
            }
            convert::json_to_struct(&Value::Object(full))
        }),
        ..Default::default()
    }
}

/// The two acceptable answers.
fn check(req: &RunFunctionRequest) -> Result<(), TestCaseError> {
    let rsp = run(req, Duration::from_secs(60)).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let desired = rsp.desired.unwrap_or_default();
    prop_assert!(
        desired.resources.contains_key("earlier"),
        "earlier desired state lost"
    );
    let fatals: Vec<_> = rsp
        .results
        .iter()
        .filter(|r| r.severity() == Severity::Fatal)
        .collect();
    match fatals.as_slice() {
        [] => {
            for key in ["serviceaccount", "deployment", "service", "scaledobject"] {
                prop_assert!(
                    desired.resources.contains_key(key),
                    "valid answer without {key}"
                );
            }
        }
        [fatal] => {
            prop_assert_eq!(rsp.results.len(), 1);
            prop_assert_eq!(desired.resources.len(), 1, "a Fatal must not add resources");
            for line in fatal.message.lines().skip(1) {
                let named = ["spec", "input", "metadata"]
                    .iter()
                    .any(|p| line.starts_with(p));
                prop_assert!(
                    named && line.contains(": "),
                    "line names no field: {line:?}"
                );
            }
        }
        _ => prop_assert!(false, "more than one Fatal"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_specs_compose_or_fail_naming_fields(spec in any_json()) {
        check(&request(spec, None))?;
    }

    #[test]
    fn nearly_valid_specs_compose_or_fail_naming_fields(spec in mutated_spec()) {
        check(&request(spec, None))?;
    }

    #[test]
    fn arbitrary_inputs_compose_or_fail_naming_fields(input in any_json()) {
        let spec = json!({"image": "ghcr.io/org/w:v1", "nats": {"stream": "S", "consumer": "c"}});
        check(&request(spec, Some(input)))?;
    }
}
