//! The JSON Schema for editors (kept up to date by tests/generated.rs): valid draft-07,
//! accepting every example claim, and pointing at the offending field of a bad one.

mod upstream;

use function_event_driven_service::api::definition::{self, claim_json_schema, CLAIM_KIND};
use jsonschema::Validator;
use serde_json::{json, Value};
use upstream::example_claims;

fn validator() -> Validator {
    jsonschema::draft7::new(&claim_json_schema()).expect("the claim schema compiles")
}

/// `<instance path>: <message>` of every violation.
fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn schema_is_valid_draft_07() {
    let schema = claim_json_schema();
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-07/schema#",
        "yaml-language-server reads draft-07"
    );
    let problems: Vec<String> = jsonschema::draft7::meta::validator()
        .as_ref()
        .iter_errors(&schema)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_example_claim_validates() {
    let validator = validator();
    let claims = example_claims();
    assert!(!claims.is_empty(), "examples/ holds no claim");
    for (file, mut doc) in claims {
        // The schema describes claims; an XR has the same spec, so check it in a claim's clothes.
        doc["kind"] = json!(CLAIM_KIND);
        let problems = errors(&validator, &doc);
        assert!(
            problems.is_empty(),
            "{}:\n  {}",
            file.display(),
            problems.join("\n  ")
        );
    }
}

fn minimal() -> Value {
    json!({
        "apiVersion": "platform.bizmatters.io/v1alpha1",
        "kind": "EventDrivenService",
        "metadata": {"name": "worker", "namespace": "workers"},
        "spec": {
            "image": "ghcr.io/org/worker:v1.0.0",
            "nats": {"stream": "JOBS", "consumer": "workers"},
        },
    })
}

/// Sets `value` at a JSON pointer, creating objects on the way; `null` removes the field.
fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let mut node = &mut doc;
    for part in parent.split('/').skip(1) {
        node = node
            .as_object_mut()
            .expect("an object")
            .entry(part)
            .or_insert_with(|| json!({}));
    }
    let map = node.as_object_mut().expect("an object");
    if value.is_null() {
        map.remove(key);
    } else {
        map.insert(key.to_string(), value);
    }
    doc
}

#[test]
fn the_minimal_claim_validates() {
    let problems = errors(&validator(), &minimal());
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn bad_claims_are_rejected_at_the_offending_field() {
    let long_name = "a".repeat(48);
    let cases = [
        (
            "a size outside the enum",
            "/spec/size",
            json!("xlarge"),
            "/spec/size",
        ),
        ("a misspelt field", "/spec/sise", json!("small"), "/spec"),
        (
            "a missing stream",
            "/spec/nats/stream",
            Value::Null,
            "/spec/nats",
        ),
        (
            "an image without tag or digest",
            "/spec/image",
            json!("ghcr.io/org/worker"),
            "/spec/image",
        ),
        (
            "a nested typo",
            "/spec/scaling/minReplica",
            json!(2),
            "/spec/scaling",
        ),
        (
            "a negative replica count",
            "/spec/scaling/minReplicas",
            json!(-1),
            "/spec/scaling/minReplicas",
        ),
        (
            "a stream name with a wildcard",
            "/spec/nats/stream",
            json!("JOBS.*"),
            "/spec/nats/stream",
        ),
        (
            "an env name that is no identifier",
            "/spec/secretRefs",
            json!([{"name": "db", "env": [{"secretKey": "host", "envName": "DB-HOST"}]}]),
            "/spec/secretRefs/0/env/0/envName",
        ),
        (
            "a secret name with capitals",
            "/spec/secret1Name",
            json!("DbConn"),
            "/spec/secret1Name",
        ),
        (
            "a name too long for the ScaledObject",
            "/metadata/name",
            json!(long_name),
            "/metadata/name",
        ),
        ("a wrong kind", "/kind", json!("Deployment"), "/kind"),
        ("a top-level typo", "/sepc", json!({}), ""),
    ];
    let validator = validator();
    for (reason, pointer, value, want_path) in cases {
        let doc = with(minimal(), pointer, value);
        let paths: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| e.instance_path().to_string())
            .collect();
        assert!(
            paths.iter().any(|p| p == want_path),
            "{reason}: want an error at {want_path:?}, got {:?}",
            errors(&validator, &doc)
        );
    }
}

#[test]
fn the_json_schema_is_the_xrd_with_the_documented_changes() {
    /// The JSON Schema side, with the one addition undone.
    fn without_closed_objects(node: &Value) -> Value {
        match node {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, v)| !(k.as_str() == "additionalProperties" && **v == json!(false)))
                    .map(|(k, v)| (k.clone(), without_closed_objects(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    /// The XRD side, with the two removals applied, an integer format's range spelt out as
    /// bounds, and int-or-string spelt as JSON Schema types.
    fn without_extensions(node: &Value) -> Value {
        match node {
            Value::Object(map) => {
                let mut out: serde_json::Map<_, _> = map
                    .iter()
                    .filter(|(k, _)| !k.starts_with("x-kubernetes-") && k.as_str() != "format")
                    .map(|(k, v)| (k.clone(), without_extensions(v)))
                    .collect();
                let range = match map.get("format").and_then(Value::as_str) {
                    Some("int32") => Some((json!(i32::MIN), json!(i32::MAX))),
                    Some("int64") => Some((json!(i64::MIN), json!(i64::MAX))),
                    _ => None,
                };
                if let Some((min, max)) = range {
                    out.entry("minimum").or_insert(min);
                    out.entry("maximum").or_insert(max);
                }
                if map.get("x-kubernetes-int-or-string") == Some(&json!(true)) {
                    out.insert("type".into(), json!(["integer", "string"]));
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
    let mut json_schema = definition::claim_json_schema();
    // The other addition: Crossplane's own spec fields, let through untyped, and exactly those.
    let props = json_schema["properties"]["spec"]["properties"]
        .as_object_mut()
        .expect("spec has properties");
    for field in definition::CROSSPLANE_SPEC_FIELDS {
        let added = props.remove(*field);
        assert!(
            added.is_some_and(|v| v.get("type").is_none()),
            "{field} not let through untyped"
        );
    }
    assert_eq!(
        without_closed_objects(&json_schema["properties"]["spec"]),
        without_extensions(definition::spec_schema())
    );
}
