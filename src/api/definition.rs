//! The EventDrivenService API as data: the XRD and the function's Input CRD, embedded at build
//! time, and the JSON Schema of a claim derived from the XRD, so the function, editors and
//! `validate` check exactly what the API server checks.
//!
//! The JSON Schema is the XRD's `spec` schema with these changes, and no others:
//! - Kubernetes extensions (`x-kubernetes-*`: CEL rules, list types) are dropped; JSON Schema has
//!   no way to state them, and the function reports the same mistakes. An int-or-string field
//!   becomes `type: [integer, string]`.
//! - `format` is dropped: `int32`/`int64` are OpenAPI formats JSON Schema does not define, and
//!   the bounds they imply are spelled out as `maximum`.
//! - Every object with `properties` gets `additionalProperties: false`: the API server prunes an
//!   unknown field silently, an editor should flag it as a typo.
//!
//! Around it come `apiVersion`, `kind` and `metadata` of a claim. Crossplane drops `metadata`
//! from an XRD's schema, so the claim name limit lives only here and in the function.

use crate::api::placement::{MAX_SCALED_OBJECT_NAME, SCALER_SUFFIX};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

/// The XRD, as shipped in the Configuration package.
pub const XRD_YAML: &str = include_str!("../../apis/definition.yaml");
/// The CRD of the function Input, as shipped in the Function package.
pub const INPUT_CRD_YAML: &str =
    include_str!("../../package/input/eventdrivenservice.fn.bizmatters.io_inputs.yaml");
/// `apiVersion` of a claim.
pub const CLAIM_API_VERSION: &str = "platform.bizmatters.io/v1alpha1";
/// `kind` of a claim.
pub const CLAIM_KIND: &str = "EventDrivenService";
/// The XRD version whose schema claims follow.
pub const VERSION: &str = "v1alpha1";
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

static XRD: LazyLock<Value> = LazyLock::new(|| {
    // The file is compiled in; `embedded_xrd_has_a_claim_spec_schema` proves it parses.
    serde_yaml::from_str(XRD_YAML)
        .unwrap_or_else(|e| unreachable!("apis/definition.yaml is not valid YAML: {e}"))
});

static INPUT_CRD: LazyLock<Value> = LazyLock::new(|| {
    // The file is compiled in; `embedded_input_crd_has_a_schema` proves it parses.
    serde_yaml::from_str(INPUT_CRD_YAML).unwrap_or_else(|e| {
        unreachable!(
            "package/input/eventdrivenservice.fn.bizmatters.io_inputs.yaml is not valid YAML: {e}"
        )
    })
});

/// The embedded XRD, parsed.
pub fn xrd() -> Value {
    XRD.clone()
}

/// The `openAPIV3Schema` of `version` in an XRD, if it has that version.
pub fn version_schema<'a>(xrd: &'a Value, version: &str) -> Option<&'a Value> {
    xrd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?
        .pointer("/schema/openAPIV3Schema")
}

/// The XRD's schema of `spec`, as the API server applies it.
pub fn spec_schema() -> &'static Value {
    // Proven present by `embedded_xrd_has_a_claim_spec_schema`.
    version_schema(&XRD, VERSION)
        .and_then(|s| s.pointer("/properties/spec"))
        .unwrap_or_else(|| unreachable!("apis/definition.yaml has no {VERSION} spec schema"))
}

/// The embedded Input CRD, parsed.
pub fn input_crd() -> &'static Value {
    &INPUT_CRD
}

/// The Input CRD's schema of an Input.
pub fn input_schema() -> &'static Value {
    // Proven present by `embedded_input_crd_has_a_schema`.
    INPUT_CRD
        .pointer("/spec/versions/0/schema/openAPIV3Schema")
        .unwrap_or_else(|| unreachable!("the Input CRD has no schema"))
}

/// The JSON Schema (draft-07) of an EventDrivenService claim file.
pub fn claim_json_schema() -> Value {
    let description = version_schema(&XRD, VERSION)
        .and_then(|s| s.get("description"))
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
    fn embedded_xrd_has_a_claim_spec_schema() {
        let xrd: Value = serde_yaml::from_str(XRD_YAML).expect("apis/definition.yaml parses");
        let spec = version_schema(&xrd, VERSION).and_then(|s| s.pointer("/properties/spec"));
        assert!(spec.is_some_and(Value::is_object), "no spec schema");
        assert_eq!(
            xrd.pointer("/spec/claimNames/kind").and_then(Value::as_str),
            Some(CLAIM_KIND)
        );
        assert_eq!(
            format!(
                "{}/{VERSION}",
                xrd.pointer("/spec/group")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
            CLAIM_API_VERSION
        );
    }

    #[test]
    fn embedded_input_crd_has_a_schema() {
        let crd: Value = serde_yaml::from_str(INPUT_CRD_YAML).expect("the Input CRD parses");
        let schema = crd.pointer("/spec/versions/0/schema/openAPIV3Schema");
        assert!(schema.is_some_and(|s| s.get("properties").is_some()));
    }

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
                    "n": {"type": "integer", "maximum": 3},
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
