//! The EventDrivenService API as data, generated from the Rust types: the XRDs (v1 with a
//! claim, v2 namespaced), the function's Input CRD and the JSON Schema of a claim. The types'
//! doc comments, serde defaults and schemars attributes are the API's only definition; the
//! files under apis/, package/input/ and schemas/ are written from here (tests/generated.rs).
//!
//! The JSON Schema is the XRD's `spec` schema with these changes, and no others:
//! - Kubernetes extensions (`x-kubernetes-*`: CEL rules, list types) are dropped; JSON Schema has
//!   no way to state them, and the function reports the same mistakes. An int-or-string field
//!   becomes `type: [integer, string]`.
//! - `format` is dropped: `int32`/`int64` are OpenAPI formats JSON Schema does not define.
//! - Every object with `properties` gets `additionalProperties: false`: the API server prunes an
//!   unknown field silently, an editor should flag it as a typo.
//!
//! Around it come `apiVersion`, `kind` and `metadata` of a claim. Crossplane drops `metadata`
//! from an XRD's schema, so the claim name limit lives only here and in the function.

use crate::api::{
    input::Settings,
    placement::{MAX_SCALED_OBJECT_NAME, SCALER_SUFFIX},
    spec::Spec,
    status::Status,
};
use schemars::{generate::SchemaSettings, JsonSchema};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

/// `apiVersion` of a claim.
pub const CLAIM_API_VERSION: &str = "platform.bizmatters.io/v1alpha1";
/// `kind` of a claim.
pub const CLAIM_KIND: &str = "EventDrivenService";
/// The API group of the claim and the XR.
const GROUP: &str = "platform.bizmatters.io";
/// The XRD version whose schema claims follow.
pub const VERSION: &str = "v1alpha1";
/// The function Input's group, version and kind.
pub const INPUT_GROUP: &str = "eventdrivenservice.fn.bizmatters.io";
/// The function Input's version.
pub const INPUT_VERSION: &str = "v1beta1";
/// The function Input's kind.
pub const INPUT_KIND: &str = "Input";
/// Longest claim name: the ScaledObject `<name>-scaler` must fit KEDA's 54 characters.
pub const MAX_CLAIM_NAME: usize = MAX_SCALED_OBJECT_NAME - SCALER_SUFFIX.len();
/// Fields Crossplane adds to the spec of the claim and XR CRDs it generates from the XRD; the
/// function ignores them rather than refusing them.
pub const CROSSPLANE_SPEC_FIELDS: &[&str] = &[
    "claimRef",
    "compositionRef",
    "compositionRevisionRef",
    "compositionRevisionSelector",
    "compositionSelector",
    "compositionUpdatePolicy",
    "compositeDeletePolicy",
    "crossplane",
    "environmentConfigRefs",
    "publishConnectionDetailsTo",
    "resourceRef",
    "resourceRefs",
    "writeConnectionSecretToRef",
];
/// The dialect of the generated schema; draft-07 is what yaml-language-server reads.
pub const JSON_SCHEMA_DIALECT: &str = "http://json-schema.org/draft-07/schema#";

/// A DNS-1123 label: what a namespace, and (shorter still) a claim name, must be.
const DNS1123_LABEL_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// An EventDrivenService runs a NATS JetStream consumer as a Deployment with a ServiceAccount
/// and a ClusterIP Service on port 8080, and scales it with a KEDA ScaledObject on the
/// consumer's pending messages.
#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used
struct EventDrivenService {
    /// The worker to run and how it consumes and scales.
    spec: Option<Spec>,
    /// What the function last observed of the worker.
    status: Option<Status>,
}

/// Platform settings of the event-driven-service function, shared by every EventDrivenService
/// its Composition composes. Unknown fields are refused.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // only its schema is used
struct Input {
    /// Always `eventdrivenservice.fn.bizmatters.io/v1beta1`.
    api_version: Option<String>,
    /// Always `Input`.
    kind: Option<String>,
    /// Ignored; allowed because Crossplane treats the Input as a Kubernetes object.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::spec::any_object")]
    metadata: Option<()>,
    #[serde(flatten)]
    settings: Settings,
}

/// The Kubernetes (structural OpenAPI v3) schema of a type.
fn structural<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft07()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    to_structural(&mut schema);
    schema
}

/// Rewrites one node of schemars' JSON Schema, and those below it, into Kubernetes' form: an
/// `Option` is its type, not required; an enum is `enum`; a closed object is open (the API
/// server prunes unknown fields, and structural schemas forbid `additionalProperties` beside
/// `properties`); empty and null defaults go; descriptions are one line.
fn to_structural(node: &mut Value) {
    let Value::Object(map) = node else { return };
    map.remove("$schema");
    map.remove("title");
    if let Some(Value::Array(types)) = map.get("type") {
        let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if let [only] = types.as_slice() {
            map.insert("type".into(), only.clone());
        }
    }
    if let Some(Value::Array(choices)) = map.remove("anyOf") {
        let mut choices: Vec<Value> = choices
            .into_iter()
            .filter(|c| *c != json!({"type": "null"}))
            .collect();
        match (choices.pop(), choices.is_empty()) {
            (Some(Value::Object(only)), true) => {
                for (key, value) in only {
                    map.entry(key).or_insert(value);
                }
            }
            (Some(last), _) => {
                choices.push(last);
                map.insert("anyOf".into(), Value::Array(choices));
            }
            (None, _) => {}
        }
    }
    let variants = map.get("oneOf").and_then(Value::as_array).and_then(|one| {
        one.iter()
            .map(|v| v.get("const").cloned())
            .collect::<Option<Vec<_>>>()
    });
    if let Some(variants) = variants {
        map.remove("oneOf");
        map.insert("type".into(), "string".into());
        map.insert("enum".into(), Value::Array(variants));
    }
    if map.get("additionalProperties") == Some(&Value::Bool(false)) {
        map.remove("additionalProperties");
    }
    let map_like =
        map.contains_key("additionalProperties") || map.get("type") == Some(&json!("array"));
    match map.get("default") {
        Some(Value::Null) => drop(map.remove("default")),
        Some(Value::Array(a)) if a.is_empty() => drop(map.remove("default")),
        Some(Value::Object(o)) if o.is_empty() && map_like => drop(map.remove("default")),
        _ => {}
    }
    if let Some(Value::String(text)) = map.get_mut("description") {
        *text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(to_structural);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get_mut(key) {
            to_structural(child);
        }
    }
}

static SPEC_SCHEMA: LazyLock<Value> = LazyLock::new(structural::<Spec>);
static RESOURCE_SCHEMA: LazyLock<Value> = LazyLock::new(structural::<EventDrivenService>);
static INPUT_SCHEMA: LazyLock<Value> = LazyLock::new(structural::<Input>);

/// The XRD's schema of `spec`, as the API server applies it.
pub fn spec_schema() -> &'static Value {
    &SPEC_SCHEMA
}

/// The Input CRD's schema of an Input.
pub fn input_schema() -> &'static Value {
    &INPUT_SCHEMA
}

/// The JSON Schema a spec is checked against: the spec part of a claim's.
pub fn spec_json_schema() -> Value {
    to_json_schema(&SPEC_SCHEMA)
}

/// The JSON Schema an Input is checked against.
pub fn input_json_schema() -> Value {
    to_json_schema(&INPUT_SCHEMA)
}

/// Which XRD: Crossplane v1's cluster-scoped XR with a namespaced claim, or v2's namespaced XR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `XEventDrivenService` with the claim `EventDrivenService`.
    Claim,
    /// `EventDrivenService`, namespaced (Crossplane v2).
    Namespaced,
}

/// The XRD of one flavour.
pub fn xrd(flavour: Flavour) -> Value {
    let version = json!({
        "name": VERSION,
        "served": true,
        "referenceable": true,
        "additionalPrinterColumns": [
            {"name": "Image", "type": "string", "jsonPath": ".spec.image",
             "description": "Container image of the worker.", "priority": 1},
            {"name": "Available", "type": "integer", "jsonPath": ".status.availableReplicas",
             "description": "Replicas of the worker that are available."},
            {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint",
             "description": "In-cluster address of the worker's HTTP port.", "priority": 1},
        ],
        "schema": {"openAPIV3Schema": &*RESOURCE_SCHEMA},
    });
    match flavour {
        Flavour::Claim => json!({
            "apiVersion": "apiextensions.crossplane.io/v1",
            "kind": "CompositeResourceDefinition",
            "metadata": {"name": format!("xeventdrivenservices.{GROUP}")},
            "spec": {
                "group": GROUP,
                "names": {"kind": "XEventDrivenService", "plural": "xeventdrivenservices"},
                "claimNames": {"kind": CLAIM_KIND, "plural": "eventdrivenservices"},
                "defaultCompositionRef": {"name": "event-driven-service"},
                "versions": [version],
            },
        }),
        // The XR, its Secrets and every composed resource share one namespace; Objects unless
        // the XR picks the Direct Composition (spec.crossplane.compositionRef).
        Flavour::Namespaced => json!({
            "apiVersion": "apiextensions.crossplane.io/v2",
            "kind": "CompositeResourceDefinition",
            "metadata": {"name": format!("eventdrivenservices.{GROUP}")},
            "spec": {
                "group": GROUP,
                "scope": "Namespaced",
                "names": {"kind": CLAIM_KIND, "plural": "eventdrivenservices"},
                "defaultCompositionRef": {"name": "event-driven-service-objects"},
                "versions": [version],
            },
        }),
    }
}

/// The CRD of the function Input, shipped in the Function package for tools to read.
pub fn input_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("inputs.{INPUT_GROUP}")},
        "spec": {
            "group": INPUT_GROUP,
            "names": {
                "kind": INPUT_KIND,
                "listKind": "InputList",
                "plural": "inputs",
                "singular": "input",
                "categories": ["crossplane"],
            },
            "scope": "Namespaced",
            "versions": [{
                "name": INPUT_VERSION,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": &*INPUT_SCHEMA},
            }],
        },
    })
}

/// The JSON Schema (draft-07) of an EventDrivenService claim file.
pub fn claim_json_schema() -> Value {
    let description = RESOURCE_SCHEMA
        .get("description")
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "$schema": JSON_SCHEMA_DIALECT,
        "title": CLAIM_KIND,
        "description": description,
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {
                "description": "API group and version of the claim.",
                "const": CLAIM_API_VERSION,
            },
            "kind": {
                "description": "Kind of the claim.",
                "const": CLAIM_KIND,
            },
            "metadata": {
                "type": "object",
                "description": "Standard object metadata.",
                "required": ["name"],
                "properties": {
                    "name": {
                        "type": "string",
                        "description": format!(
                            "Name of the claim, which the worker's resources are named after: a \
                             DNS-1123 label of at most {MAX_CLAIM_NAME} characters, so that the \
                             ScaledObject `<name>-scaler` fits KEDA's 54."
                        ),
                        "maxLength": MAX_CLAIM_NAME,
                        "pattern": DNS1123_LABEL_PATTERN,
                    },
                    "namespace": {
                        "type": "string",
                        "description": "Namespace of the claim, where the worker runs and its Secrets live.",
                        "maxLength": 63,
                        "pattern": DNS1123_LABEL_PATTERN,
                    },
                    "labels": {
                        "type": "object",
                        "description": "Labels of the claim.",
                        "additionalProperties": {"type": "string"},
                    },
                    "annotations": {
                        "type": "object",
                        "description": "Annotations of the claim.",
                        "additionalProperties": {"type": "string"},
                    },
                },
            },
            "spec": with_crossplane_fields(to_json_schema(spec_schema())),
            "status": {
                "type": "object",
                "description": "Written by Crossplane and the function; not part of a claim file.",
            },
        },
        "additionalProperties": false,
    })
}

/// Turns one node of a structural OpenAPI schema into JSON Schema (see the module docs).
/// Claims and XRs may carry Crossplane's own spec fields (`compositionRef`, v2's `crossplane`,
/// ...); the function ignores them, so the editor schema lets them through untyped.
fn with_crossplane_fields(mut spec: Value) -> Value {
    if let Some(props) = spec.get_mut("properties").and_then(Value::as_object_mut) {
        for field in CROSSPLANE_SPEC_FIELDS {
            props.insert(
                (*field).to_string(),
                json!({"description": "Crossplane's own field; the function does not read it."}),
            );
        }
    }
    spec
}

fn to_json_schema(node: &Value) -> Value {
    match node {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len() + 1);
            for (key, value) in map {
                if key.starts_with("x-kubernetes-") || key == "format" {
                    continue;
                }
                let value = match key.as_str() {
                    "properties" => match value {
                        Value::Object(props) => Value::Object(
                            props
                                .iter()
                                .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
                                .collect(),
                        ),
                        other => other.clone(),
                    },
                    "items" | "additionalProperties" => to_json_schema(value),
                    _ => value.clone(),
                };
                out.insert(key.clone(), value);
            }
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            // The range a Kubernetes integer format implies, where the schema states none.
            let range = match map.get("format").and_then(Value::as_str) {
                Some("int32") => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
                Some("int64") => Some((i64::MIN, i64::MAX)),
                _ => None,
            };
            if let Some((min, max)) = range {
                out.entry("minimum").or_insert(min.into());
                out.entry("maximum").or_insert(max.into());
            }
            if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                out.insert("type".into(), serde_json::json!(["integer", "string"]));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_drops_kubernetes_extensions_and_closes_objects() {
        let node = json!({
            "type": "object",
            "x-kubernetes-validations": [{"rule": "true"}],
            "properties": {
                "n": {"type": "integer", "format": "int32", "maximum": 3},
                "l": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "items": {"type": "object", "properties": {"k": {"type": "string"}}},
                },
            },
        });
        assert_eq!(
            to_json_schema(&node),
            json!({
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "minimum": i32::MIN, "maximum": 3},
                    "l": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"k": {"type": "string"}},
                            "additionalProperties": false,
                        },
                    },
                },
                "additionalProperties": false,
            })
        );
    }

    #[test]
    fn the_claim_name_limit_leaves_room_for_the_scaler_suffix() {
        assert_eq!(MAX_CLAIM_NAME, 47);
    }
}
