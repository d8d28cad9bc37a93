//! The upstream schemas our packages and composed resources must satisfy, read at test time from
//! the shared schema folder (`SHARED_SCHEMAS_DIR`, by default `../shared/schemas` next to the
//! crate): Crossplane, provider-kubernetes and KEDA CRDs, and the strict Kubernetes JSON Schemas.
//!
//! A CRD schema is turned into JSON Schema the way the API server reads it, made as strict as
//! `kubectl`'s default field validation: an unknown field is an error, not silently pruned.
//! CEL rules (`x-kubernetes-validations`) are not evaluated here.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use jsonschema::{Draft, Resource, Validator};
use serde_json::{json, Map, Value};
use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// Where the strict Kubernetes schemas resolve their shared definitions.
pub const K8S_DEFINITIONS_URI: &str = "https://kubernetes.io/api/_definitions.json";
/// The strict Kubernetes JSON Schemas, relative to the schema folder.
pub const K8S_DIR: &str = "kubernetes/v1.31.0-local-strict";
const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The shared schema folder, loaded once per test.
pub struct Upstream {
    dir: PathBuf,
    definitions: Value,
}

/// A compiled schema with a name for messages.
pub struct Schema {
    name: String,
    validator: Validator,
}

impl Schema {
    /// Every violation as `<instance path>: <message>`; empty when the instance is valid.
    pub fn errors(&self, instance: &Value) -> Vec<String> {
        self.validator
            .iter_errors(instance)
            .map(|e| {
                let path = e.instance_path().to_string();
                let path = if path.is_empty() { "/".into() } else { path };
                format!("{path}: {e}")
            })
            .collect()
    }

    /// What this schema is, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Fails the test with every violation, naming what was checked against what.
    #[track_caller]
    pub fn assert_valid(&self, what: &str, instance: &Value) {
        let errors = self.errors(instance);
        assert!(
            errors.is_empty(),
            "{what} does not validate against {}:\n  {}",
            self.name,
            errors.join("\n  ")
        );
    }
}

impl Upstream {
    /// The schema folder, or `None` (after saying so on stderr) when it is absent outside CI.
    pub fn load() -> Option<Self> {
        let dir = std::env::var_os("SHARED_SCHEMAS_DIR").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/schemas"),
            PathBuf::from,
        );
        if !dir.is_dir() {
            assert!(
                std::env::var_os("CI").is_none(),
                "upstream schemas not found at {} (set SHARED_SCHEMAS_DIR); CI must check against them",
                dir.display()
            );
            // Straight to the stream, past the test harness's output capture, so a skip is seen.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: upstream schemas not found at {}",
                dir.display()
            );
            return None;
        }
        let definitions = read_json(&dir.join(K8S_DIR).join("_definitions.json"));
        Some(Self { dir, definitions })
    }

    /// A file of the schema folder, parsed (YAML or JSON).
    pub fn document(&self, relative: &str) -> Value {
        read_yaml(&self.dir.join(relative))
    }

    /// The strict Kubernetes schema in `file`, e.g. `deployment-apps-v1.json`.
    pub fn kubernetes(&self, file: &str) -> Schema {
        let schema = read_json(&self.dir.join(K8S_DIR).join(file));
        self.compile(format!("{K8S_DIR}/{file}"), &schema)
    }

    /// The strict Kubernetes schema of one definition, e.g.
    /// `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition`.
    pub fn kubernetes_definition(&self, name: &str) -> Schema {
        let schema = json!({
            "$schema": DIALECT,
            "$ref": format!("{K8S_DEFINITIONS_URI}#/$defs/{name}"),
        });
        self.compile(format!("{K8S_DIR}/_definitions.json#{name}"), &schema)
    }

    /// The schema of `version` of the CRD in the file `relative`.
    pub fn crd(&self, relative: &str, version: &str) -> Schema {
        self.crd_schema(relative, &self.document(relative), version)
    }

    /// The schema of `version` of the CRD of `kind` in a file holding several CRDs.
    pub fn crd_in_stream(&self, relative: &str, kind: &str, version: &str) -> Schema {
        let crd = read_yaml_stream(&self.dir.join(relative))
            .into_iter()
            .find(|doc| doc.pointer("/spec/names/kind").and_then(Value::as_str) == Some(kind))
            .unwrap_or_else(|| panic!("{relative} holds no CRD of kind {kind}"));
        self.crd_schema(&format!("{relative} ({kind})"), &crd, version)
    }

    /// The schema of `version` of a CRD given as a document; `name` is used in messages.
    pub fn crd_schema(&self, name: &str, crd: &Value, version: &str) -> Schema {
        let group = str_at(crd, "/spec/group");
        let kind = str_at(crd, "/spec/names/kind");
        let open_api = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .and_then(|vs| {
                vs.iter()
                    .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
            })
            .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
            .unwrap_or_else(|| panic!("{name} has no version {version} with a schema"));
        let mut schema = crd_to_json_schema(open_api);
        let root = schema
            .as_object_mut()
            .unwrap_or_else(|| panic!("{name}: openAPIV3Schema is not an object"));
        let props = root
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap_or_else(|| panic!("{name}: properties is not an object"));
        props.insert(
            "apiVersion".into(),
            json!({"const": format!("{group}/{version}")}),
        );
        props.insert("kind".into(), json!({"const": kind}));
        props.insert(
            "metadata".into(),
            json!({"$ref": format!("{K8S_DEFINITIONS_URI}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")}),
        );
        let mut required: Vec<Value> = root
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        required.extend([json!("apiVersion"), json!("kind")]);
        root.insert("required".into(), Value::Array(required));
        root.insert("$schema".into(), json!(DIALECT));
        self.compile(format!("{name} ({version})"), &schema)
    }

    /// A schema of our own (not from the folder), with the Kubernetes definitions resolvable.
    pub fn compile(&self, name: impl Into<String>, schema: &Value) -> Schema {
        let name = name.into();
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_resource(
                K8S_DEFINITIONS_URI,
                Resource::from_contents(self.definitions.clone()),
            )
            .build(schema)
            .unwrap_or_else(|e| panic!("cannot compile {name}: {e}"));
        Schema { name, validator }
    }
}

/// An OpenAPI v3 schema of a CRD as JSON Schema: `nullable` becomes a `null` type,
/// int-or-string drops its `type`, and objects without preserved unknown fields are closed.
pub fn crd_to_json_schema(node: &Value) -> Value {
    let Value::Object(map) = node else {
        return node.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                let converted = value
                    .as_object()
                    .map(|props| {
                        props
                            .iter()
                            .map(|(k, v)| (k.clone(), crd_to_json_schema(v)))
                            .collect::<Map<_, _>>()
                    })
                    .map_or_else(|| value.clone(), Value::Object);
                out.insert(key.clone(), converted);
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(key.clone(), crd_to_json_schema(value));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let converted = value
                    .as_array()
                    .map(|alts| alts.iter().map(crd_to_json_schema).collect::<Vec<_>>())
                    .map_or_else(|| value.clone(), Value::Array);
                out.insert(key.clone(), converted);
            }
            k if k.starts_with("x-kubernetes-") || k == "nullable" => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    let flag = |name: &str| map.get(name).and_then(Value::as_bool) == Some(true);
    if flag("x-kubernetes-int-or-string") {
        out.remove("type");
        out.entry("anyOf")
            .or_insert_with(|| json!([{"type": "integer"}, {"type": "string"}]));
    }
    if flag("nullable") {
        if let Some(t) = out.get("type").cloned() {
            out.insert("type".into(), json!([t, "null"]));
        }
    }
    if out.contains_key("properties")
        && !out.contains_key("additionalProperties")
        && !flag("x-kubernetes-preserve-unknown-fields")
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

/// A string at a JSON pointer, or a test failure naming it.
pub fn str_at<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    doc.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
}

/// A JSON file, or a test failure naming it.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A single-document YAML (or JSON) file, or a test failure naming it.
pub fn read_yaml(path: &Path) -> Value {
    let mut docs = read_yaml_stream(path);
    assert_eq!(docs.len(), 1, "{} must hold one document", path.display());
    docs.remove(0)
}

/// Every non-empty document of a YAML stream, or a test failure naming the file.
pub fn read_yaml_stream(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
        })
        .filter(|doc: &Value| !doc.is_null())
        .collect()
}

/// A path inside this crate.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Every YAML document of the files directly in `examples/` (sorted), with its file.
/// Subfolders hold what examples refer to (observed state), not examples.
pub fn examples() -> Vec<(PathBuf, Value)> {
    let dir = repo_path("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .flat_map(|path| {
            read_yaml_stream(&path)
                .into_iter()
                .map(move |doc| (path.clone(), doc))
        })
        .collect()
}

/// The arguments of an example's `# render-flags:` line: how the `render` command, and the
/// tests, render it (`--namespaced`, `--input FILE`, `--observed FILE`).
pub fn render_flags(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("# render-flags:"))
        .map(|f| f.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// The example claims and XRs: documents whose kind is EventDrivenService or XEventDrivenService.
pub fn example_claims() -> Vec<(PathBuf, Value)> {
    examples()
        .into_iter()
        .filter(|(_, doc)| {
            matches!(
                doc.get("kind").and_then(Value::as_str),
                Some("EventDrivenService" | "XEventDrivenService")
            )
        })
        .collect()
}

/// The Composition of the Crossplane v1 Configuration (claims, cluster-scoped XRs).
pub const COMPOSITION_V1: &str = "apis/composition.yaml";
/// The default Composition of the Crossplane v2 Configuration: namespaced provider-kubernetes
/// Objects.
pub const COMPOSITION_OBJECTS: &str = "apis/v2/composition-objects.yaml";
/// The Crossplane v2 Composition that composes the resources themselves.
pub const COMPOSITION_DIRECT: &str = "apis/v2/composition-direct.yaml";
/// Every Composition we ship.
pub const COMPOSITIONS: [&str; 3] = [COMPOSITION_V1, COMPOSITION_OBJECTS, COMPOSITION_DIRECT];
/// The ClusterRole Crossplane needs to compose directly.
pub const DIRECT_RBAC: &str = "apis/v2/rbac.yaml";
/// The verbs Crossplane uses on a resource it composes directly: read and watch it for
/// readiness, create, update and patch it (server-side apply), delete it with the XR.
pub const COMPOSE_VERBS: [&str; 7] = [
    "get", "list", "watch", "create", "update", "patch", "delete",
];

/// The function Input of a Composition's one pipeline step, or a test failure naming the file.
pub fn step_input<'a>(file: &str, composition: &'a Value) -> &'a Value {
    let steps = composition
        .pointer("/spec/pipeline")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{file} has no pipeline"));
    assert_eq!(steps.len(), 1, "{file}: one function step expected");
    steps[0]
        .get("input")
        .unwrap_or_else(|| panic!("{file}: the compose step has no input"))
}
