//! The files generated from apis/definition.yaml and committed for packages and editors: the
//! Crossplane v2 XRD and the JSON Schema of a claim. Each test fails while its file differs
//! from what the XRD gives, and rewrites the file when UPDATE_GENERATED is set.

mod upstream;

use function_event_driven_service::api::definition::claim_json_schema;
use upstream::repo_path;

const XRD: &str = "apis/definition.yaml";
const XRD_V2: &str = "apis/v2/definition.yaml";
const JSON_SCHEMA: &str = "schemas/eventdrivenservice.schema.json";
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
        "{relative} is stale or missing: it is generated from {XRD}; refresh it with\n  {REFRESH}"
    );
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The v2 XRD: its own head (comments, name, scope, names, default Composition: everything
/// before `versions:`), then the v1 XRD's versions, text for text, comments included.
fn v2_xrd(v1: &str, v2: &str) -> String {
    const VERSIONS: &str = "\n  versions:\n";
    let at = |text: &str, file| {
        text.find(VERSIONS)
            .unwrap_or_else(|| panic!("{file} has no `  versions:` line"))
    };
    format!("{}{}", &v2[..at(v2, XRD_V2)], &v1[at(v1, XRD)..])
}

#[test]
fn the_v2_xrd_serves_the_v1_xrds_versions() {
    check(XRD_V2, &v2_xrd(&read(XRD), &read(XRD_V2)));
}

#[test]
fn the_json_schema_for_editors_is_the_xrds() {
    let schema = serde_json::to_string_pretty(&claim_json_schema()).expect("serialisable");
    check(JSON_SCHEMA, &format!("{schema}\n"));
}

#[test]
fn only_the_versions_of_the_v2_xrd_are_generated() {
    let v1 = "# one\nspec:\n  group: g\n  versions:\n    - name: v1alpha1\n";
    let v2 = "# two\nspec:\n  scope: Namespaced\n  versions:\n    - name: old\n";
    assert_eq!(
        v2_xrd(v1, v2),
        "# two\nspec:\n  scope: Namespaced\n  versions:\n    - name: v1alpha1\n"
    );
}
