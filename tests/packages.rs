//! The package files (XRD, Composition, Function and Configuration metadata, the Input CRD,
//! examples/functions.yaml, Dockerfile) against the upstream schemas, and against each other:
//! names that must agree across files are checked here, because a mismatch only shows in a
//! cluster.

mod upstream;

use function_event_driven_service::validate;
use serde_json::Value;
use std::path::Path;
use upstream::{read_yaml, read_yaml_stream, repo_path, str_at, Upstream};

const XRD: &str = "apis/definition.yaml";
const COMPOSITION: &str = "apis/composition.yaml";
const FUNCTION_META: &str = "package/crossplane.yaml";
const CONFIGURATION_META: &str = "crossplane.yaml";
const INPUT_CRD: &str = "package/input/eventdrivenservice.fn.bizmatters.io_inputs.yaml";
const FUNCTIONS: &str = "examples/functions.yaml";

const CROSSPLANE_XRD_CRD: &str =
    "crossplane/apiextensions.crossplane.io_compositeresourcedefinitions.yaml";
const CROSSPLANE_COMPOSITION_CRD: &str = "crossplane/apiextensions.crossplane.io_compositions.yaml";
const K8S_CRD: &str =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition";
const K8S_SCHEMA_PROPS: &str =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";

fn doc(relative: &str) -> Value {
    read_yaml(&repo_path(relative))
}

fn version_of(doc: &Value) -> &str {
    let api_version = str_at(doc, "/apiVersion");
    api_version.rsplit('/').next().unwrap_or(api_version)
}

/// The `openAPIV3Schema` of the only version of a CRD or XRD.
fn only_schema(doc: &Value) -> &Value {
    let versions = doc
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .expect("spec.versions");
    assert_eq!(versions.len(), 1, "one version expected");
    versions[0]
        .pointer("/schema/openAPIV3Schema")
        .expect("a schema")
}

#[test]
fn xrd_validates_against_crossplane() {
    let Some(up) = Upstream::load() else { return };
    let xrd = doc(XRD);
    up.crd(CROSSPLANE_XRD_CRD, version_of(&xrd))
        .assert_valid(XRD, &xrd);
    // Crossplane's CRD leaves the embedded schema open; Kubernetes' own definition of a schema
    // catches a misspelt keyword (`descripton`, `x-kubernetes-validation`).
    up.kubernetes_definition(K8S_SCHEMA_PROPS)
        .assert_valid("the XRD's openAPIV3Schema", only_schema(&xrd));
}

#[test]
fn composition_validates_against_crossplane() {
    let Some(up) = Upstream::load() else { return };
    let composition = doc(COMPOSITION);
    up.crd(CROSSPLANE_COMPOSITION_CRD, version_of(&composition))
        .assert_valid(COMPOSITION, &composition);
}

#[test]
fn package_metadata_validates_against_crossplane() {
    let Some(up) = Upstream::load() else { return };
    for (file, crd) in [
        (
            FUNCTION_META,
            "crossplane/meta.pkg.crossplane.io_functions.yaml",
        ),
        (
            CONFIGURATION_META,
            "crossplane/meta.pkg.crossplane.io_configurations.yaml",
        ),
    ] {
        let meta = doc(file);
        up.crd(crd, version_of(&meta)).assert_valid(file, &meta);
    }
}

#[test]
fn functions_for_render_validate_against_crossplane() {
    let Some(up) = Upstream::load() else { return };
    for function in read_yaml_stream(&repo_path(FUNCTIONS)) {
        up.crd(
            "crossplane/pkg.crossplane.io_functions.yaml",
            version_of(&function),
        )
        .assert_valid(FUNCTIONS, &function);
    }
}

#[test]
fn input_crd_is_a_valid_kubernetes_crd() {
    let Some(up) = Upstream::load() else { return };
    let crd = doc(INPUT_CRD);
    up.kubernetes_definition(K8S_CRD)
        .assert_valid(INPUT_CRD, &crd);
    assert_eq!(
        str_at(&crd, "/metadata/name"),
        format!(
            "{}.{}",
            str_at(&crd, "/spec/names/plural"),
            str_at(&crd, "/spec/group")
        ),
        "a CRD's name must be <plural>.<group>"
    );
}

#[test]
fn composition_input_validates_against_the_input_crd() {
    let Some(up) = Upstream::load() else { return };
    let crd = doc(INPUT_CRD);
    let composition = doc(COMPOSITION);
    let input = composition
        .pointer("/spec/pipeline/0/input")
        .expect("the compose step has an input");
    up.crd_schema(INPUT_CRD, &crd, version_of(input))
        .assert_valid("the Composition's input", input);
}

#[test]
fn schemas_are_structural_and_documented() {
    let xrd = doc(XRD);
    let input = doc(INPUT_CRD);
    let mut problems = Vec::new();
    check_structural("XRD", only_schema(&xrd), "", &mut problems);
    check_structural("Input CRD", only_schema(&input), "", &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The rules of a structural schema that a typo most easily breaks, plus our own: every field
/// has a description.
fn check_structural(what: &str, node: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(map) = node.as_object() else {
        problems.push(format!("{what} {path}: schema is not an object"));
        return;
    };
    let at = if path.is_empty() { "<root>" } else { path };
    let flag = |name: &str| map.get(name).and_then(Value::as_bool) == Some(true);
    if !map.contains_key("type")
        && !flag("x-kubernetes-int-or-string")
        && !flag("x-kubernetes-preserve-unknown-fields")
    {
        problems.push(format!("{what} {at}: no type"));
    }
    if map.contains_key("properties") && map.contains_key("additionalProperties") {
        problems.push(format!(
            "{what} {at}: properties and additionalProperties are mutually exclusive"
        ));
    }
    if let Some(keys) = map
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
    {
        let required = node
            .pointer("/items/required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for key in keys.iter().filter(|k| !required.contains(k)) {
            problems.push(format!("{what} {at}: list-map key {key} must be required"));
        }
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        let required = map
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for name in required.iter().filter_map(Value::as_str) {
            if !props.contains_key(name) {
                problems.push(format!("{what} {at}: required {name:?} is not a property"));
            }
        }
        for (name, prop) in props {
            let child = format!("{path}.{name}");
            let described = prop
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.trim().is_empty());
            if !described {
                problems.push(format!("{what} {child}: no description"));
            }
            check_structural(what, prop, &child, problems);
        }
    }
    if let Some(items) = map.get("items") {
        check_structural(what, items, &format!("{path}[]"), problems);
    }
    if let Some(default) = map.get("default") {
        let schema = upstream::crd_to_json_schema(node);
        match jsonschema::validator_for(&schema) {
            Ok(v) if v.is_valid(default) => {}
            Ok(_) => problems.push(format!(
                "{what} {at}: default {default} does not match its own schema"
            )),
            Err(e) => problems.push(format!("{what} {at}: schema does not compile: {e}")),
        }
    }
}

#[test]
fn xrd_does_not_redefine_fields_crossplane_adds() {
    // Crossplane adds these to the XR's spec (the function ignores them), and two more to the
    // claim's; a field of ours with one of these names would be overridden.
    let claim_only = ["compositeDeletePolicy", "resourceRef"];
    let reserved: Vec<&str> = validate::CROSSPLANE_SPEC_FIELDS
        .iter()
        .chain(&claim_only)
        .copied()
        .collect();
    let xrd = doc(XRD);
    let spec = only_schema(&xrd)
        .pointer("/properties/spec/properties")
        .and_then(Value::as_object)
        .expect("spec properties");
    let clashes: Vec<&str> = reserved
        .iter()
        .copied()
        .filter(|r| spec.contains_key(*r))
        .collect();
    assert!(clashes.is_empty(), "spec redefines {clashes:?}");
}

/// The name Crossplane gives a package installed as a dependency: its repository path without
/// the registry, as a DNS label.
fn dependency_name(package: &str) -> String {
    let without_digest = package.split('@').next().unwrap_or(package);
    let (registry, path) = without_digest
        .split_once('/')
        .unwrap_or(("", without_digest));
    let path = if registry.contains('.') || registry.contains(':') || registry == "localhost" {
        path
    } else {
        without_digest
    };
    let path = match path.rsplit_once('/') {
        Some((dir, last)) => format!("{dir}/{}", last.split(':').next().unwrap_or(last)),
        None => path.split(':').next().unwrap_or(path).to_string(),
    };
    path.replace('/', "-")
}

#[test]
fn names_agree_across_files() {
    let xrd = doc(XRD);
    let composition = doc(COMPOSITION);
    let function_meta = doc(FUNCTION_META);
    let configuration = doc(CONFIGURATION_META);
    let functions = read_yaml_stream(&repo_path(FUNCTIONS));

    let dependency = configuration
        .pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .and_then(|deps| {
            deps.iter()
                .find(|d| d.get("kind").and_then(Value::as_str) == Some("Function"))
        })
        .expect("the Configuration depends on a Function");
    let package = str_at(dependency, "/package");
    let installed_as = dependency_name(package);
    assert_eq!(installed_as, "bizmatters-function-event-driven-service");

    assert_eq!(
        str_at(&composition, "/spec/pipeline/0/functionRef/name"),
        installed_as,
        "the Composition must call the Function by the name its dependency is installed as"
    );
    for function in &functions {
        assert_eq!(
            str_at(function, "/metadata/name"),
            installed_as,
            "{FUNCTIONS} must be named like the Composition's functionRef"
        );
        let pkg = str_at(function, "/spec/package");
        assert_eq!(
            pkg.split(':').next(),
            Some(package),
            "{FUNCTIONS} must name the package the Configuration depends on"
        );
    }
    let function_name = str_at(&function_meta, "/metadata/name");
    assert!(function_name.starts_with("function-"));
    assert!(
        package.ends_with(&format!("/{function_name}")),
        "the dependency {package} must be the package built from {FUNCTION_META}"
    );
    assert_eq!(function_name, env!("CARGO_PKG_NAME"));

    let group = str_at(&xrd, "/spec/group");
    let versions = xrd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .expect("versions");
    let referenceable: Vec<&str> = versions
        .iter()
        .filter(|v| v.get("referenceable").and_then(Value::as_bool) == Some(true))
        .map(|v| str_at(v, "/name"))
        .collect();
    assert_eq!(
        str_at(&composition, "/spec/compositeTypeRef/apiVersion"),
        format!("{group}/{}", referenceable.join(","))
    );
    assert_eq!(
        str_at(&composition, "/spec/compositeTypeRef/kind"),
        str_at(&xrd, "/spec/names/kind")
    );
    assert_eq!(
        str_at(&xrd, "/spec/defaultCompositionRef/name"),
        str_at(&composition, "/metadata/name")
    );
    assert_eq!(
        str_at(&xrd, "/metadata/name"),
        format!("{}.{group}", str_at(&xrd, "/spec/names/plural"))
    );

    let input = composition
        .pointer("/spec/pipeline/0/input")
        .expect("input");
    let input_crd = doc(INPUT_CRD);
    assert_eq!(
        str_at(input, "/apiVersion"),
        format!(
            "{}/{}",
            str_at(&input_crd, "/spec/group"),
            str_at(&input_crd, "/spec/versions/0/name")
        )
    );
    assert_eq!(
        str_at(input, "/kind"),
        str_at(&input_crd, "/spec/names/kind")
    );
}

/// Go's `filepath.Match` for the patterns we use: `*` and `?` never match `/`.
fn glob_match(pattern: &[u8], path: &[u8]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], path)
                || (path.first().is_some_and(|c| *c != b'/') && glob_match(pattern, &path[1..]))
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob_match(&pattern[1..], &path[1..]),
        (Some(p), Some(c)) if p == c => glob_match(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// The files `crossplane xpkg build` reads as package contents: it walks the root and skips
/// directories, non-YAML and empty files, paths matching an `--ignore` glob (joined to the root),
/// and paths containing the examples root.
fn xpkg_contents(root: &Path, ignore: &[&str], examples_root: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable").flatten() {
            let path = entry.path();
            // The walk goes into every directory: an --ignore naming a directory skips only it.
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "target") && dir == root {
                    // Build output; the build comment says to run on a clean checkout.
                    continue;
                }
                dirs.push(path);
                continue;
            }
            let full = path.to_string_lossy().into_owned();
            let yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            let empty = entry.metadata().map(|m| m.len() == 0).unwrap_or(true);
            let ignored = ignore.iter().any(|glob| {
                let pattern = root.join(glob).to_string_lossy().into_owned();
                glob_match(pattern.as_bytes(), full.as_bytes())
            });
            if yaml && !empty && !ignored && !full.contains(examples_root) {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn glob_matching_follows_go_filepath_match() {
    assert!(glob_match(b"/r/package/*", b"/r/package/crossplane.yaml"));
    assert!(!glob_match(b"/r/package/*", b"/r/package/input/x.yaml"));
    assert!(glob_match(b"/r/package/*/*", b"/r/package/input/x.yaml"));
    assert!(!glob_match(b"/r/package", b"/r/package/crossplane.yaml"));
    assert!(glob_match(b"/r/.ci/?un.yaml", b"/r/.ci/run.yaml"));
}

/// The value of `--<flag>=` in the build command of a file's comment.
fn flag_in_comment<'a>(text: &'a str, flag: &str) -> &'a str {
    let start = text
        .find(&format!("--{flag}="))
        .unwrap_or_else(|| panic!("no --{flag}= in the build comment"))
        + flag.len()
        + 3;
    let rest = &text[start..];
    let end = rest.find([' ', '\n']).unwrap_or(rest.len());
    rest[..end].trim_matches('\'')
}

#[test]
fn configuration_build_command_packages_exactly_the_api() {
    let root = repo_path("");
    let text = std::fs::read_to_string(repo_path(CONFIGURATION_META)).expect("readable");
    let ignore: Vec<&str> = flag_in_comment(&text, "ignore").split(',').collect();
    let examples_root = flag_in_comment(&text, "examples-root");
    assert_eq!(flag_in_comment(&text, "package-root"), ".");
    let got = xpkg_contents(&root, &ignore, examples_root);
    assert_eq!(
        got,
        [COMPOSITION, XRD, CONFIGURATION_META],
        "the Configuration package would hold other files: extend --ignore in {CONFIGURATION_META}"
    );
    for file in &got {
        let kind = str_at(&doc(file), "/kind").to_string();
        assert!(
            [
                "Configuration",
                "CompositeResourceDefinition",
                "Composition"
            ]
            .contains(&kind.as_str()),
            "{file}: a Configuration may hold only XRDs and Compositions, not {kind}"
        );
    }
}

#[test]
fn function_build_command_packages_metadata_and_input_crd() {
    let text = std::fs::read_to_string(repo_path(FUNCTION_META)).expect("readable");
    let package_root = flag_in_comment(&text, "package-root");
    let examples_root = flag_in_comment(&text, "examples-root");
    let got = xpkg_contents(&repo_path(package_root), &[], examples_root);
    let want: Vec<String> = [FUNCTION_META, INPUT_CRD]
        .iter()
        .map(|f| {
            f.strip_prefix(&format!("{package_root}/"))
                .unwrap_or(f)
                .to_string()
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn runtime_image_runs_the_binary_as_non_root_on_9443() {
    let text = std::fs::read_to_string(repo_path("Dockerfile")).expect("Dockerfile");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let final_stage = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM");
    let last = &lines[final_stage..];
    let binary = format!("/{}", env!("CARGO_PKG_NAME"));
    assert!(
        last.contains(&format!(r#"ENTRYPOINT ["{binary}"]"#).as_str()),
        "ENTRYPOINT must be the binary alone: Crossplane passes no arguments, render only --insecure"
    );
    assert!(last.contains(&"EXPOSE 9443"), "Crossplane dials 9443");
    assert!(
        last.iter().any(|l| l.starts_with("USER ")
            && !l.starts_with("USER root")
            && !l.starts_with("USER 0")),
        "the final stage must run as a non-root user"
    );
    assert!(
        text.contains("cargo build --release --locked"),
        "release builds must use Cargo.lock as committed"
    );
    assert!(
        !last.iter().any(|l| l.starts_with("CMD")),
        "a CMD would add arguments Crossplane does not expect"
    );

    // include_str! reads apis/ at build time, so the build context must keep it.
    let ignored = std::fs::read_to_string(repo_path(".dockerignore")).expect(".dockerignore");
    for needed in ["apis", "src", "proto", "Cargo.lock"] {
        assert!(
            !ignored
                .lines()
                .map(|l| l.trim().trim_end_matches('/'))
                .any(|l| l == needed || l == "*"),
            ".dockerignore must not drop {needed}"
        );
    }
}

#[test]
fn dependency_names_follow_crossplane() {
    assert_eq!(
        dependency_name("xpkg.example.io/acme/function-x"),
        "acme-function-x"
    );
    assert_eq!(
        dependency_name("ghcr.io/bizmatters/function-event-driven-service:v0.1.0"),
        "bizmatters-function-event-driven-service"
    );
    assert_eq!(
        dependency_name("localhost:5000/team/function-y@sha256:abc"),
        "team-function-y"
    );
}
