//! The files generated from the API's Rust types and committed for packages, editors and
//! readers: both XRDs, the function Input's CRD and the JSON Schema of a claim. Each test fails
//! while its file differs from what the types give, and rewrites the file when
//! UPDATE_GENERATED is set.

mod upstream;

use function_event_driven_service::api::definition::{claim_json_schema, input_crd, xrd, Flavour};
use serde_json::Value;
use upstream::repo_path;

const REFRESH: &str = "UPDATE_GENERATED=1 cargo test --test generated";

/// Compares the committed `relative` with `want`, or writes it under UPDATE_GENERATED.
fn check(relative: &str, want: &str) {
    let path = repo_path(relative);
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    if got == want {
        return;
    }
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, want).unwrap_or_else(|e| panic!("writing {relative}: {e}"));
        return;
    }
    panic!(
        "{relative} is stale or missing: it is generated from src/api (spec.rs, input.rs, \
         status.rs); refresh it with\n  {REFRESH}"
    );
}

/// A YAML file: a comment saying what it is and where it comes from, then the document.
fn yaml(about: &str, document: &Value) -> String {
    let comment: String = about
        .lines()
        .chain([
            "",
            "Generated from the Rust types in src/api (spec.rs, input.rs, status.rs), their doc",
            "comments and attributes; do not edit. After changing them, run",
            &format!("  {REFRESH}"),
        ])
        .map(|line| {
            if line.is_empty() {
                "#\n".to_string()
            } else {
                format!("# {line}\n")
            }
        })
        .collect();
    format!(
        "{comment}{}",
        serde_yaml::to_string(document).expect("serialisable")
    )
}

#[test]
fn the_claim_xrd_is_the_types() {
    let about =
        "The EventDrivenService API with a claim (Crossplane v1 and v2): one NATS JetStream \
                 worker\n(Deployment, Service, ServiceAccount and a KEDA ScaledObject scaling on \
                 consumer lag),\ncomposed by the function-event-driven-service pipeline step in \
                 composition.yaml.";
    check("apis/definition.yaml", &yaml(about, &xrd(Flavour::Claim)));
}

#[test]
fn the_namespaced_xrd_is_the_types() {
    let about =
        "The EventDrivenService API for Crossplane v2: the same API as ../definition.yaml, \
                 served as a\nnamespaced composite resource instead of a cluster-scoped XR with a \
                 claim. Both define the\nCRD eventdrivenservices.platform.bizmatters.io, so a \
                 cluster runs one or the other: this\nfile ships in its own Configuration \
                 (crossplane.yaml in this folder).";
    check(
        "apis/v2/definition.yaml",
        &yaml(about, &xrd(Flavour::Namespaced)),
    );
}

#[test]
fn the_input_crd_is_the_types() {
    let about = "The schema of the function's Input: the `input` of its step in a Composition \
                 pipeline.\nCrossplane never installs this CRD; it ships in the package so tools \
                 can read the schema.\nEvery field is optional; each default is the function's \
                 built-in one.";
    check(
        "package/input/eventdrivenservice.fn.bizmatters.io_inputs.yaml",
        &yaml(about, &input_crd()),
    );
}

#[test]
fn the_json_schema_for_editors_is_the_types() {
    let schema = serde_json::to_string_pretty(&claim_json_schema()).expect("serialisable");
    check(
        "schemas/eventdrivenservice.schema.json",
        &format!("{schema}\n"),
    );
}
