//! What the function composes for every example, against the schemas of the clusters it lands
//! in: provider-kubernetes Objects against the Object CRD (the latest release and main), the
//! manifest inside each Object against the strict Kubernetes schema of its kind or KEDA's CRD,
//! and the status written to the XR against the XRD's status schema (a status field the XRD
//! does not declare would be pruned by the API server without a word).
//!
//! Crossplane v2 renders use the Inputs of the shipped v2 Compositions, and whatever the Direct
//! Composition makes Crossplane create must be granted by the ClusterRole shipped beside it.

mod upstream;

use function_event_driven_service::{api::definition, offline::render::render_as};
use serde_json::{json, Value};
use std::path::Path;
use upstream::{
    crd_to_json_schema, example_claims, read_yaml, read_yaml_stream, render_flags, repo_path,
    step_input, Schema, Upstream, COMPOSE_VERBS, COMPOSITION_DIRECT, COMPOSITION_OBJECTS,
    DIRECT_RBAC,
};

/// The Object CRDs of provider-kubernetes, by apiVersion: the latest release and main.
const OBJECT_CRDS: [(&str, &str, &[&str]); 2] = [
    (
        "kubernetes.crossplane.io/v1alpha2",
        "v1alpha2",
        &[
            "provider-kubernetes/v1.2.1/kubernetes.crossplane.io_objects.yaml",
            "provider-kubernetes/kubernetes.crossplane.io_objects.yaml",
        ],
    ),
    (
        "kubernetes.m.crossplane.io/v1alpha1",
        "v1alpha1",
        &[
            "provider-kubernetes/v1.2.1/kubernetes.m.crossplane.io_objects.yaml",
            "provider-kubernetes/kubernetes.m.crossplane.io_objects.yaml",
        ],
    ),
];

/// NACK's CRDs, one YAML stream.
const NACK_CRDS: &str = "nack/crds.yml";

/// Status fields Crossplane owns on every XR; the function's own must be in the XRD.
const CROSSPLANE_STATUS: [&str; 3] = ["conditions", "connectionDetails", "claimConditionTypes"];

struct Schemas {
    objects: Vec<(&'static str, Vec<Schema>)>,
    deployment: Schema,
    service: Schema,
    service_account: Schema,
    scaled_object: Schema,
    disruption_budget: Schema,
    consumer: Schema,
    status: Schema,
}

impl Schemas {
    fn load(up: &Upstream) -> Self {
        let objects = OBJECT_CRDS
            .iter()
            .map(|(api_version, version, files)| {
                let schemas = files.iter().map(|f| up.crd(f, version)).collect();
                (*api_version, schemas)
            })
            .collect();
        let xrd_status = definition::xrd(definition::Flavour::Claim)
            .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/status")
            .cloned()
            .expect("the XRD has a status schema");
        Self {
            objects,
            deployment: up.kubernetes("deployment-apps-v1.json"),
            service: up.kubernetes("service-v1.json"),
            service_account: up.kubernetes("serviceaccount-v1.json"),
            scaled_object: up.crd("keda/keda.sh_scaledobjects.yaml", "v1alpha1"),
            disruption_budget: up.kubernetes("poddisruptionbudget-policy-v1.json"),
            consumer: up.crd_in_stream(NACK_CRDS, "Consumer", "v1beta2"),
            status: up.compile("the XRD's status schema", &crd_to_json_schema(&xrd_status)),
        }
    }

    /// The schema of a Kubernetes manifest, by apiVersion and kind.
    fn manifest(&self, manifest: &Value) -> Option<&Schema> {
        let api_version = manifest.get("apiVersion").and_then(Value::as_str)?;
        let kind = manifest.get("kind").and_then(Value::as_str)?;
        match (api_version, kind) {
            ("apps/v1", "Deployment") => Some(&self.deployment),
            ("v1", "Service") => Some(&self.service),
            ("v1", "ServiceAccount") => Some(&self.service_account),
            ("keda.sh/v1alpha1", "ScaledObject") => Some(&self.scaled_object),
            ("policy/v1", "PodDisruptionBudget") => Some(&self.disruption_budget),
            ("jetstream.nats.io/v1beta2", "Consumer") => Some(&self.consumer),
            _ => None,
        }
    }

    /// Every problem of one composed resource: an Object and the manifest it wraps, or a bare
    /// manifest.
    fn resource_errors(&self, resource: &Value) -> Vec<String> {
        let api_version = resource
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut errors = Vec::new();
        let manifest = match self.objects.iter().find(|(v, _)| *v == api_version) {
            Some((_, schemas)) => {
                for schema in schemas {
                    errors.extend(
                        schema
                            .errors(resource)
                            .into_iter()
                            .map(|e| format!("{} {e}", schema.name())),
                    );
                }
                match resource.pointer("/spec/forProvider/manifest") {
                    Some(manifest) => manifest,
                    None => {
                        errors.push("an Object without spec.forProvider.manifest".into());
                        return errors;
                    }
                }
            }
            None => resource,
        };
        match self.manifest(manifest) {
            Some(schema) => errors.extend(
                schema
                    .errors(manifest)
                    .into_iter()
                    .map(|e| format!("manifest against {}: {e}", schema.name())),
            ),
            None => errors.push(format!(
                "no schema for {} {}",
                manifest["apiVersion"], manifest["kind"]
            )),
        }
        errors
    }

    /// Checks the status the function writes to the XR.
    fn check_status(&self, what: &str, composite: &Value) {
        let mut status = composite.get("status").cloned().unwrap_or(json!({}));
        if let Some(map) = status.as_object_mut() {
            for owned in CROSSPLANE_STATUS {
                map.remove(owned);
            }
        }
        self.status
            .assert_valid(&format!("{what}, XR status"), &status);
    }
}

/// How one example is rendered.
struct Variant {
    name: String,
    namespaced: bool,
    input: Option<Value>,
    observed: Vec<Value>,
    required: Vec<Value>,
}

/// An Input with `settings` on top of the defaults.
fn input(settings: Value) -> Value {
    let mut input = json!({
        "apiVersion": "eventdrivenservice.fn.bizmatters.io/v1beta1",
        "kind": "Input",
    });
    if let (Some(map), Value::Object(settings)) = (input.as_object_mut(), settings) {
        map.extend(settings);
    }
    input
}

/// The Input of a shipped Composition's compose step.
fn composition_input(file: &str) -> Value {
    step_input(file, &read_yaml(&repo_path(file))).clone()
}

/// The ways an example is rendered: as its `# render-flags:` line says, and, for a document of
/// kind EventDrivenService, as a Crossplane v1 claim (cluster-scoped Objects) and as a
/// Crossplane v2 namespaced XR through each v2 Composition (namespaced Objects, or the
/// resources themselves) and through a namespaced ProviderConfig.
fn variants(file: &Path, doc: &Value) -> Vec<Variant> {
    let flags = render_flags(file);
    let value_of = |flag: &str| {
        flags
            .iter()
            .position(|f| f == flag)
            .and_then(|i| flags.get(i + 1))
            .map(|f| repo_path(f))
    };
    let mut variants = vec![Variant {
        name: format!("rendered with {flags:?}"),
        namespaced: flags.iter().any(|f| f == "--namespaced"),
        input: value_of("--input").map(|f| read_yaml(&f)),
        observed: value_of("--observed")
            .map(|f| read_yaml_stream(&f))
            .unwrap_or_default(),
        required: value_of("--required-resources")
            .map(|f| read_yaml_stream(&f))
            .unwrap_or_default(),
    }];
    if doc.get("kind").and_then(Value::as_str) == Some("EventDrivenService") {
        let plain = |name: &str, namespaced, input| Variant {
            name: name.into(),
            namespaced,
            input,
            observed: Vec::new(),
            required: Vec::new(),
        };
        variants.extend([
            plain("a claim", false, None),
            plain(
                &format!("a namespaced XR through {COMPOSITION_OBJECTS}"),
                true,
                Some(composition_input(COMPOSITION_OBJECTS)),
            ),
            plain(
                "a namespaced XR with a namespaced ProviderConfig",
                true,
                Some(input(
                    json!({"providerConfigRef": {"name": "workers", "kind": "ProviderConfig"}}),
                )),
            ),
            plain(
                &format!("a namespaced XR through {COMPOSITION_DIRECT}"),
                true,
                Some(composition_input(COMPOSITION_DIRECT)),
            ),
        ]);
    }
    variants
}

#[test]
fn every_example_composes_resources_their_clusters_accept() {
    let Some(up) = Upstream::load() else { return };
    let schemas = Schemas::load(&up);
    let claims = example_claims();
    assert!(!claims.is_empty(), "examples/ holds no claim or XR");
    for (file, doc) in &claims {
        for variant in variants(file, doc) {
            let what = format!("{} {}", file.display(), variant.name);
            let rendered = render_as(
                doc,
                variant.input.as_ref(),
                &variant.observed,
                &variant.required,
                variant.namespaced,
            )
            .unwrap_or_else(|errors| {
                panic!(
                    "{what} does not render:\n  {}",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n  ")
                )
            });
            assert!(!rendered.resources.is_empty(), "{what}: nothing composed");
            for (key, resource) in &rendered.resources {
                let errors = schemas.resource_errors(resource);
                assert!(
                    errors.is_empty(),
                    "{what}, resource {key:?}:\n  {}",
                    errors.join("\n  ")
                );
            }
            schemas.check_status(&what, &rendered.composite);
        }
    }
}

/// Sets `value` at a JSON pointer whose parents exist.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    doc.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"))
        .insert(key.to_string(), value);
}

#[test]
fn the_checks_reject_what_a_cluster_would() {
    let Some(up) = Upstream::load() else { return };
    let schemas = Schemas::load(&up);
    let (file, doc) = example_claims().into_iter().next().expect("an example");
    let rendered = render_as(&doc, None, &[], &[], false)
        .unwrap_or_else(|e| panic!("{} does not render: {e:?}", file.display()));
    let by_kind = |kind: &str| {
        rendered
            .resources
            .iter()
            .map(|(_, r)| r)
            .find(|r| {
                r.pointer("/spec/forProvider/manifest/kind")
                    .and_then(Value::as_str)
                    == Some(kind)
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} composed"))
    };
    let cases = [
        (
            "an unknown field of the Object",
            "Deployment",
            "/spec/forProvider/replicas",
            json!(3),
        ),
        (
            "an unknown field of the Deployment",
            "Deployment",
            "/spec/forProvider/manifest/spec/replica",
            json!(3),
        ),
        (
            "a string where the Service wants a port number",
            "Service",
            "/spec/forProvider/manifest/spec/ports",
            json!([{"port": "http"}]),
        ),
        (
            "a ScaledObject without a target",
            "ScaledObject",
            "/spec/forProvider/manifest/spec",
            json!({"triggers": []}),
        ),
        (
            "a readiness policy provider-kubernetes does not know",
            "ServiceAccount",
            "/spec/readiness",
            json!({"policy": "WhenReady"}),
        ),
    ];
    for (reason, kind, pointer, value) in cases {
        let mut resource = by_kind(kind);
        set(&mut resource, pointer, value);
        assert!(
            !schemas.resource_errors(&resource).is_empty(),
            "{reason}: accepted"
        );
    }
    let mut composite = rendered.composite.clone();
    set(&mut composite, "/status/replicaCount", json!(1));
    let status = composite["status"].clone();
    assert!(
        !schemas.status.errors(&status).is_empty(),
        "a status field the XRD does not declare: accepted"
    );
}

/// The resource a RBAC rule names for a kind: its lowercase plural. The English rules cover
/// every kind Kubernetes and KEDA define so far (NetworkPolicy -> networkpolicies).
fn resource_of(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

#[test]
fn the_direct_rbac_covers_every_kind_the_direct_composition_emits() {
    let input = composition_input(COMPOSITION_DIRECT);
    let mut emitted = std::collections::BTreeSet::new();
    for (file, doc) in example_claims() {
        if doc.get("kind").and_then(Value::as_str) != Some("EventDrivenService") {
            continue;
        }
        let rendered = render_as(&doc, Some(&input), &[], &[], true)
            .unwrap_or_else(|e| panic!("{} does not render: {e:?}", file.display()));
        for (key, resource) in &rendered.resources {
            let api_version = resource["apiVersion"].as_str().expect("an apiVersion");
            let kind = resource["kind"].as_str().expect("a kind");
            // The core group is "" in RBAC rules; its apiVersion has no group part.
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
            assert!(
                !group.ends_with("crossplane.io"),
                "{}: {COMPOSITION_DIRECT} wrapped {key:?} in {api_version} {kind}",
                file.display()
            );
            emitted.insert((group.to_string(), resource_of(kind)));
        }
    }
    assert!(emitted.len() >= 4, "too few kinds rendered: {emitted:?}");

    let role = read_yaml(&repo_path(DIRECT_RBAC));
    let rules = role["rules"].as_array().expect("rules");
    let strings = |rule: &Value, key: &str| -> Vec<String> {
        rule[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    let mut missing = Vec::new();
    for (group, resource) in &emitted {
        for verb in COMPOSE_VERBS {
            let granted = rules.iter().any(|rule| {
                strings(rule, "apiGroups").contains(group)
                    && strings(rule, "resources").contains(resource)
                    && strings(rule, "verbs").iter().any(|v| v == verb)
            });
            if !granted {
                missing.push(format!("{verb} {resource} in group {group:?}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{DIRECT_RBAC} does not let Crossplane:\n  {}",
        missing.join("\n  ")
    );
}
