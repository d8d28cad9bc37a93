//! The package files (XRDs, Compositions, Function and Configuration metadata, the Input CRD,
//! the Direct flavour's ClusterRole, examples/functions.yaml, Dockerfile) against the upstream
//! schemas, and against each other: names that must agree across files are checked here,
//! because a mismatch only shows in a cluster.
//!
//! Two Configurations state one API: the top-level one for Crossplane v1 (claims) and
//! apis/v2/ for Crossplane v2 (namespaced XRs), whose XRD serves the same versions
//! (tests/generated.rs derives them from the first).

mod upstream;

use function_event_driven_service::api::definition;
use serde_json::Value;
use std::path::Path;
use upstream::{
    read_yaml, read_yaml_stream, repo_path, step_input, str_at, Upstream, COMPOSE_VERBS,
    COMPOSITIONS, COMPOSITION_DIRECT, COMPOSITION_OBJECTS, COMPOSITION_V1 as COMPOSITION,
    DIRECT_RBAC,
};

const XRD: &str = "apis/definition.yaml";
const XRD_V2: &str = "apis/v2/definition.yaml";
const FUNCTION_META: &str = "package/crossplane.yaml";
const CONFIGURATION_META: &str = "crossplane.yaml";
const CONFIGURATION_META_V2: &str = "apis/v2/crossplane.yaml";
const INPUT_CRD: &str = "package/input/eventdrivenservice.fn.bizmatters.io_inputs.yaml";
const FUNCTIONS: &str = "examples/functions.yaml";

const CROSSPLANE_XRD_CRD: &str =
    "crossplane/apiextensions.crossplane.io_compositeresourcedefinitions.yaml";
const CROSSPLANE_COMPOSITION_CRD: &str = "crossplane/apiextensions.crossplane.io_compositions.yaml";
const K8S_CRD: &str =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition";
const K8S_SCHEMA_PROPS: &str =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
const K8S_CLUSTER_ROLE: &str = "io.k8s.api.rbac.v1.ClusterRole";

/// One Configuration package: its metadata, its XRD and its Compositions.
struct Flavour {
    configuration: &'static str,
    xrd: &'static str,
    compositions: &'static [&'static str],
}

const FLAVOURS: [Flavour; 2] = [
    Flavour {
        configuration: CONFIGURATION_META,
        xrd: XRD,
        compositions: &[COMPOSITION],
    },
    Flavour {
        configuration: CONFIGURATION_META_V2,
        xrd: XRD_V2,
        compositions: &[COMPOSITION_OBJECTS, COMPOSITION_DIRECT],
    },
];

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
fn xrds_validate_against_crossplane() {
    let Some(up) = Upstream::load() else { return };
    for file in [XRD, XRD_V2] {
        let xrd = doc(file);
        up.crd(CROSSPLANE_XRD_CRD, version_of(&xrd))
            .assert_valid(file, &xrd);
        // Crossplane's CRD leaves the embedded schema open; Kubernetes' own definition of a
        // schema catches a misspelt keyword (`descripton`, `x-kubernetes-validation`).
        up.kubernetes_definition(K8S_SCHEMA_PROPS)
            .assert_valid(&format!("{file}'s openAPIV3Schema"), only_schema(&xrd));
    }
}

#[test]
fn the_v2_xrd_is_a_namespaced_xr_without_claims() {
    // The upstream CRD states these as CEL rules and defaults, which the schema check above
    // does not evaluate.
    let xrd = doc(XRD_V2);
    assert_eq!(
        str_at(&xrd, "/apiVersion"),
        "apiextensions.crossplane.io/v2"
    );
    assert_eq!(str_at(&xrd, "/spec/scope"), "Namespaced");
    for v1_only in ["claimNames", "connectionSecretKeys"] {
        assert!(
            xrd.pointer(&format!("/spec/{v1_only}")).is_none(),
            "{XRD_V2}: apiextensions.crossplane.io/v2 refuses spec.{v1_only}"
        );
    }
    // The v1 XRD's claim and this XR are one CRD name: the reason for two packages.
    let v1 = doc(XRD);
    assert_eq!(
        str_at(&xrd, "/metadata/name"),
        format!(
            "{}.{}",
            str_at(&v1, "/spec/claimNames/plural"),
            str_at(&v1, "/spec/group")
        )
    );
    assert_eq!(
        str_at(&xrd, "/spec/names/kind"),
        str_at(&v1, "/spec/claimNames/kind")
    );
}

#[test]
fn compositions_validate_against_crossplane() {
    let Some(up) = Upstream::load() else { return };
    for file in COMPOSITIONS {
        let composition = doc(file);
        up.crd(CROSSPLANE_COMPOSITION_CRD, version_of(&composition))
            .assert_valid(file, &composition);
    }
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
        (
            CONFIGURATION_META_V2,
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
fn composition_inputs_validate_against_the_input_crd() {
    let Some(up) = Upstream::load() else { return };
    let crd = doc(INPUT_CRD);
    for file in COMPOSITIONS {
        let composition = doc(file);
        let input = step_input(file, &composition);
        up.crd_schema(INPUT_CRD, &crd, version_of(input))
            .assert_valid(&format!("{file}'s input"), input);
    }
}

#[test]
fn schemas_are_structural_and_documented() {
    let input = doc(INPUT_CRD);
    let mut problems = Vec::new();
    for file in [XRD, XRD_V2] {
        check_structural(file, only_schema(&doc(file)), "", &mut problems);
    }
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
    let reserved: Vec<&str> = definition::CROSSPLANE_SPEC_FIELDS
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
    let function_meta = doc(FUNCTION_META);
    let configuration = doc(CONFIGURATION_META);
    let functions = read_yaml_stream(&repo_path(FUNCTIONS));

    let package = function_dependency(CONFIGURATION_META, &configuration);
    let installed_as = dependency_name(package);
    assert_eq!(installed_as, "bizmatters-function-event-driven-service");
    for function in &functions {
        assert_eq!(
            str_at(function, "/metadata/name"),
            installed_as,
            "{FUNCTIONS} must be named like the Compositions' functionRef"
        );
        let pkg = str_at(function, "/spec/package");
        assert_eq!(
            pkg.split(':').next(),
            Some(package),
            "{FUNCTIONS} must name the package the Configurations depend on"
        );
    }
    let function_name = str_at(&function_meta, "/metadata/name");
    assert!(function_name.starts_with("function-"));
    assert!(
        package.ends_with(&format!("/{function_name}")),
        "the dependency {package} must be the package built from {FUNCTION_META}"
    );
    assert_eq!(function_name, env!("CARGO_PKG_NAME"));

    let input_crd = doc(INPUT_CRD);
    for flavour in &FLAVOURS {
        check_flavour(flavour, &installed_as, &input_crd);
    }
}

/// The package a Configuration depends on for its Function.
fn function_dependency<'a>(file: &str, configuration: &'a Value) -> &'a str {
    let dependency = configuration
        .pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .and_then(|deps| {
            deps.iter()
                .find(|d| d.get("kind").and_then(Value::as_str) == Some("Function"))
        })
        .unwrap_or_else(|| panic!("{file}: the Configuration depends on no Function"));
    str_at(dependency, "/package")
}

/// One Configuration's names against each other: its Compositions call the Function by the
/// name its dependency is installed as, compose its XRD's kind, and pass an Input of the
/// function's Input CRD; its XRD's default Composition is one of them.
fn check_flavour(flavour: &Flavour, installed_as: &str, input_crd: &Value) {
    let configuration = doc(flavour.configuration);
    let xrd = doc(flavour.xrd);
    let package = function_dependency(flavour.configuration, &configuration);
    assert_eq!(
        dependency_name(package),
        installed_as,
        "{}: every Configuration must depend on the same Function",
        flavour.configuration
    );

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
        str_at(&xrd, "/metadata/name"),
        format!("{}.{group}", str_at(&xrd, "/spec/names/plural")),
        "{}: an XRD's name must be <plural>.<group>",
        flavour.xrd
    );

    let mut names = Vec::new();
    for file in flavour.compositions {
        let composition = doc(file);
        names.push(str_at(&composition, "/metadata/name").to_string());
        assert_eq!(
            str_at(&composition, "/spec/pipeline/0/functionRef/name"),
            installed_as,
            "{file}: the Composition must call the Function by the name its dependency is installed as"
        );
        assert_eq!(
            str_at(&composition, "/spec/compositeTypeRef/apiVersion"),
            format!("{group}/{}", referenceable.join(",")),
            "{file}: compositeTypeRef.apiVersion"
        );
        assert_eq!(
            str_at(&composition, "/spec/compositeTypeRef/kind"),
            str_at(&xrd, "/spec/names/kind"),
            "{file}: compositeTypeRef.kind"
        );
        let input = step_input(file, &composition);
        assert_eq!(
            str_at(input, "/apiVersion"),
            format!(
                "{}/{}",
                str_at(input_crd, "/spec/group"),
                str_at(input_crd, "/spec/versions/0/name")
            ),
            "{file}: the Input's apiVersion"
        );
        assert_eq!(
            str_at(input, "/kind"),
            str_at(input_crd, "/spec/names/kind"),
            "{file}: the Input's kind"
        );
    }
    let default = str_at(&xrd, "/spec/defaultCompositionRef/name");
    let position = names.iter().position(|n| n == default).unwrap_or_else(|| {
        panic!(
            "{}: the default Composition {default} is none of {names:?}",
            flavour.xrd
        )
    });
    // Direct output needs RBAC that no Configuration can carry; it must be chosen, not defaulted.
    let default_file = flavour.compositions[position];
    assert_ne!(
        step_input(default_file, &doc(default_file)).get("output"),
        Some(&Value::String("Direct".into())),
        "{}: the default Composition must not compose directly",
        flavour.xrd
    );
}

/// The lowest Crossplane release a `>=vX.Y.Z-0` constraint admits, as (major, minor).
fn lowest_release(constraint: &str) -> (u32, u32) {
    let version = constraint
        .strip_prefix(">=v")
        .unwrap_or_else(|| panic!("{constraint:?}: expected a lower bound like >=v1.19.0-0"));
    let mut parts = version
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn configurations_admit_no_crossplane_that_ignores_their_dependencies() {
    // Crossplane reads dependsOn entries written as apiVersion/kind/package only from v1.19
    // (apis/pkg/meta/v1 Dependency); older releases would install the API without its function.
    for flavour in &FLAVOURS {
        let meta = doc(flavour.configuration);
        let modern = meta["spec"]["dependsOn"]
            .as_array()
            .expect("dependsOn")
            .iter()
            .any(|d| d.get("package").is_some() || d.get("kind").is_some());
        let lowest = lowest_release(str_at(&meta, "/spec/crossplane/version"));
        assert!(
            !modern || lowest >= (1, 19),
            "{}: dependsOn uses apiVersion/kind/package, so spec.crossplane.version must start at v1.19 (admits {lowest:?})",
            flavour.configuration
        );
    }
}

#[test]
fn the_configurations_differ_only_where_crossplane_versions_do() {
    let v1 = doc(CONFIGURATION_META);
    let v2 = doc(CONFIGURATION_META_V2);
    assert_eq!(
        v1.pointer("/spec/dependsOn"),
        v2.pointer("/spec/dependsOn"),
        "both Configurations must install the same Function"
    );
    assert_eq!(str_at(&v2, "/spec/crossplane/version"), ">=v2.0.0-0");
    assert_ne!(
        str_at(&v1, "/metadata/name"),
        str_at(&v2, "/metadata/name"),
        "two packages need two names"
    );
}

#[test]
fn direct_rbac_grants_exactly_what_crossplane_needs() {
    let role = doc(DIRECT_RBAC);
    if let Some(up) = Upstream::load() {
        up.kubernetes_definition(K8S_CLUSTER_ROLE)
            .assert_valid(DIRECT_RBAC, &role);
    }
    assert_eq!(str_at(&role, "/apiVersion"), "rbac.authorization.k8s.io/v1");
    assert_eq!(str_at(&role, "/kind"), "ClusterRole");
    assert_eq!(
        role.pointer("/metadata/labels/rbac.crossplane.io~1aggregate-to-crossplane"),
        Some(&Value::String("true".into())),
        "{DIRECT_RBAC}: without the aggregation label Crossplane never gets these rights"
    );
    assert!(
        role.get("aggregationRule").is_none(),
        "{DIRECT_RBAC} grants rules itself"
    );
    let mut granted: Vec<(String, String, Vec<String>)> = Vec::new();
    for rule in role.get("rules").and_then(Value::as_array).expect("rules") {
        let strings = |key: &str| -> Vec<String> {
            rule.get(key)
                .and_then(Value::as_array)
                .unwrap_or_else(|| panic!("{DIRECT_RBAC}: a rule without {key}"))
                .iter()
                .map(|v| v.as_str().expect("a string").to_string())
                .collect()
        };
        assert!(
            rule.get("resourceNames").is_none() && rule.get("nonResourceURLs").is_none(),
            "{DIRECT_RBAC}: Crossplane composes resources of any name"
        );
        let mut verbs = strings("verbs");
        verbs.sort();
        for group in strings("apiGroups") {
            for resource in strings("resources") {
                granted.push((group.clone(), resource, verbs.clone()));
            }
        }
    }
    granted.sort();
    let mut verbs: Vec<String> = COMPOSE_VERBS.iter().map(ToString::to_string).collect();
    verbs.sort();
    let want: Vec<(String, String, Vec<String>)> = [
        ("", "serviceaccounts"),
        ("", "services"),
        ("apps", "deployments"),
        ("jetstream.nats.io", "consumers"),
        ("keda.sh", "scaledobjects"),
        ("policy", "poddisruptionbudgets"),
    ]
    .iter()
    .map(|(g, r)| (g.to_string(), r.to_string(), verbs.clone()))
    .collect();
    assert_eq!(granted, want, "{DIRECT_RBAC}: (apiGroup, resource, verbs)");
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

/// The files the build command in a package metadata file's comment would package, relative
/// to its package root, with that root.
fn build_command_contents(meta: &str) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(repo_path(meta)).expect("readable");
    let package_root = flag_in_comment(&text, "package-root");
    let ignore: Vec<&str> = if text.contains("--ignore=") {
        flag_in_comment(&text, "ignore").split(',').collect()
    } else {
        Vec::new()
    };
    let examples_root = flag_in_comment(&text, "examples-root");
    let root = repo_path(package_root);
    (
        package_root.to_string(),
        xpkg_contents(&root, &ignore, examples_root),
    )
}

/// `file` relative to a package root.
fn in_root(root: &str, file: &str) -> String {
    match root {
        "." => file.to_string(),
        _ => file
            .strip_prefix(&format!("{root}/"))
            .unwrap_or_else(|| panic!("{file} is outside the package root {root}"))
            .to_string(),
    }
}

#[test]
fn configuration_build_commands_package_exactly_their_api() {
    for flavour in &FLAVOURS {
        let meta = flavour.configuration;
        let (root, got) = build_command_contents(meta);
        let mut want: Vec<String> = [meta, flavour.xrd]
            .iter()
            .chain(flavour.compositions)
            .map(|f| in_root(&root, f))
            .collect();
        want.sort();
        assert_eq!(
            got, want,
            "the package built as {meta} says would hold other files: extend its --ignore"
        );
        for file in &got {
            let path = if root == "." {
                file.clone()
            } else {
                format!("{root}/{file}")
            };
            let kind = str_at(&doc(&path), "/kind").to_string();
            assert!(
                [
                    "Configuration",
                    "CompositeResourceDefinition",
                    "Composition"
                ]
                .contains(&kind.as_str()),
                "{path}: a Configuration may hold only XRDs and Compositions, not {kind}"
            );
        }
    }
}

#[test]
fn function_build_command_packages_metadata_and_input_crd() {
    let (root, got) = build_command_contents(FUNCTION_META);
    let want: Vec<String> = [FUNCTION_META, INPUT_CRD]
        .iter()
        .map(|f| in_root(&root, f))
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
