//! One API, many statements of it: the XRD, the spec parser, the Input CRD, the settings parser,
//! the JSON Schema for editors and the examples. These tests fail as soon as two of them
//! disagree on a field, a default, a pattern or a bound.

mod upstream;

use function_event_driven_service::{
    api::input::{Output, Settings, INPUT_API_VERSION, INPUT_KIND},
    api::placement,
    api::rules,
    api::schema,
    api::spec::{self, Spec},
};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use upstream::{
    crd_to_json_schema, example_claims, read_yaml, repo_path, step_input, COMPOSITION_DIRECT,
    COMPOSITION_OBJECTS, COMPOSITION_V1,
};

const INPUT_CRD: &str = "package/input/eventdrivenservice.fn.bizmatters.io_inputs.yaml";
const FULL_CLAIM: &str = "examples/full-claim.yaml";

fn input_crd_schema() -> Value {
    let crd = read_yaml(&repo_path(INPUT_CRD));
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema")
        .cloned()
        .expect("the Input CRD has a schema")
}

/// Leaf fields a schema declares, as `a.b`, with `[]` for list items.
fn schema_leaves(node: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            schema_leaves(prop, &join(prefix, name), out);
        }
    } else if let Some(items) = node
        .get("items")
        .filter(|items| items.get("properties").is_some())
    {
        schema_leaves(items, &format!("{prefix}[]"), out);
    } else {
        out.insert(prefix.to_string());
    }
}

/// Leaf fields a document sets, in the notation of [`schema_leaves`].
fn value_leaves(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, v) in map {
                value_leaves(v, &join(prefix, name), out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for item in items {
                value_leaves(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn leaves_of_schema(node: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    schema_leaves(node, "", &mut out);
    out
}

fn leaves_of_value(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    value_leaves(value, "", &mut out);
    out
}

fn full_spec() -> Value {
    read_yaml(&repo_path(FULL_CLAIM))
        .get("spec")
        .cloned()
        .expect("the full claim has a spec")
}

/// A spec as the function reads it: parsed, then written back.
fn parsed(spec: &Value) -> Value {
    let parsed = Spec::parse(spec).unwrap_or_else(|errors| panic!("{spec} is refused: {errors:?}"));
    serde_json::to_value(parsed).expect("a Spec serialises")
}

/// What the API server stores for `value`: every missing field with a default gets it, inside
/// every object present (including objects a default just created).
fn apply_defaults(schema: &Value, value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let mut out = map.clone();
            for (name, prop) in props.into_iter().flatten() {
                if let (false, Some(default)) = (out.contains_key(name), prop.get("default")) {
                    out.insert(name.clone(), default.clone());
                }
            }
            for (name, v) in out.iter_mut() {
                if let Some(prop) = props.and_then(|p| p.get(name)) {
                    *v = apply_defaults(prop, v);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => match schema.get("items") {
            Some(item_schema) => Value::Array(
                items
                    .iter()
                    .map(|i| apply_defaults(item_schema, i))
                    .collect(),
            ),
            None => value.clone(),
        },
        _ => value.clone(),
    }
}

/// Drops empty lists: the parser writes an empty list back as no field at all.
fn without_empty_lists(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.as_array().is_some_and(Vec::is_empty))
                .map(|(k, v)| (k.clone(), without_empty_lists(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_empty_lists).collect()),
        other => other.clone(),
    }
}

#[test]
fn the_full_example_sets_every_field_of_the_xrd() {
    let declared = leaves_of_schema(schema::spec_schema());
    let set = leaves_of_value(&full_spec());
    let missing: Vec<_> = declared.difference(&set).collect();
    let unknown: Vec<_> = set.difference(&declared).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "{FULL_CLAIM} must set every field of the XRD and no other; missing {missing:?}, unknown {unknown:?}"
    );
}

#[test]
fn the_parser_knows_exactly_the_fields_of_the_xrd() {
    let declared = leaves_of_schema(schema::spec_schema());
    let known = leaves_of_value(&parsed(&full_spec()));
    let dropped: Vec<_> = declared.difference(&known).collect();
    let extra: Vec<_> = known.difference(&declared).collect();
    assert!(
        dropped.is_empty() && extra.is_empty(),
        "the parsed {FULL_CLAIM} lost {dropped:?} and gained {extra:?} against the XRD"
    );
}

#[test]
fn api_server_defaults_are_the_parsers_defaults() {
    let minimal = json!({
        "image": "ghcr.io/org/worker:v1.0.0",
        "nats": {"stream": "JOBS", "consumer": "workers"},
    });
    let mut specs = vec![("a minimal spec".to_string(), minimal)];
    specs.extend(
        example_claims()
            .into_iter()
            .map(|(file, doc)| (file.display().to_string(), doc["spec"].clone())),
    );
    for (what, spec) in specs {
        let stored = apply_defaults(schema::spec_schema(), &without_empty_lists(&spec));
        assert_eq!(
            stored,
            parsed(&spec),
            "{what}: the API server's defaults (left) and the parser's (right) differ"
        );
    }
}

#[test]
fn nats_defaults_are_left_to_the_function_input() {
    let settings = Settings::default();
    let nats = schema::spec_schema()
        .pointer("/properties/nats/properties")
        .expect("nats properties");
    for (field, default) in [
        ("url", &settings.nats_url),
        ("monitoringEndpoint", &settings.nats_monitoring_endpoint),
        ("account", &settings.nats_account),
    ] {
        let prop = &nats[field];
        assert!(
            prop.get("default").is_none(),
            "nats.{field} must have no API-server default: the function Input decides it"
        );
        let description = prop["description"].as_str().unwrap_or_default();
        assert!(
            description.contains(&format!("`{default}`")),
            "nats.{field}'s description must name the built-in default `{default}`"
        );
    }
    assert_eq!(settings.nats_url, spec::DEFAULT_NATS_URL);
    assert_eq!(
        settings.nats_monitoring_endpoint,
        spec::DEFAULT_MONITORING_ENDPOINT
    );
    assert_eq!(settings.nats_account, spec::DEFAULT_NATS_ACCOUNT);
}

/// Every `default` of a schema by field path.
fn defaults(node: &Value, prefix: &str, out: &mut Map<String, Value>) {
    if let Some(default) = node.get("default") {
        out.insert(prefix.to_string(), default.clone());
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            defaults(prop, &join(prefix, name), out);
        }
    }
}

#[test]
fn input_crd_defaults_are_the_settings_defaults() {
    let settings = Settings::default();
    let size = |r: &function_event_driven_service::api::input::Resources| {
        json!({
            "cpuRequest": r.cpu_request, "cpuLimit": r.cpu_limit,
            "memoryRequest": r.memory_request, "memoryLimit": r.memory_limit,
        })
    };
    let output = match settings.output {
        Output::Objects => "Objects",
        Output::Direct => "Direct",
    };
    let want = json!({
        "providerConfigRef.name": settings.provider_config_ref.name,
        "providerConfigRef.kind": settings.provider_config_ref.kind,
        "output": output,
        "nats.url": settings.nats_url,
        "nats.monitoringEndpoint": settings.nats_monitoring_endpoint,
        "nats.account": settings.nats_account,
        "sizes.small": size(&settings.sizes.small),
        "sizes.medium": size(&settings.sizes.medium),
        "sizes.large": size(&settings.sizes.large),
    });
    let mut got = Map::new();
    defaults(&input_crd_schema(), "", &mut got);
    assert_eq!(Value::Object(got), want, "Input CRD defaults (left)");
    assert_eq!(settings.ttl, None, "the Input CRD documents no ttl default");
}

#[test]
fn the_compositions_inputs_are_the_defaults_they_say() {
    let direct = Settings {
        output: Output::Direct,
        ..Settings::default()
    };
    let cases = [
        // It spells out every default, for a platform team to see what it may change.
        (COMPOSITION_V1, Settings::default()),
        // Objects through the default ClusterProviderConfig, named in full.
        (COMPOSITION_OBJECTS, Settings::default()),
        // Only the output differs.
        (COMPOSITION_DIRECT, direct),
    ];
    for (file, want) in cases {
        let composition = read_yaml(&repo_path(file));
        assert_eq!(
            Settings::from_input(Some(step_input(file, &composition))),
            Ok(want),
            "{file}'s Input is not the settings its comment says"
        );
    }
}

/// An Input setting every field to something other than its default.
fn full_input() -> Value {
    let row = |cpu: &str, mem: &str| json!({"cpuRequest": cpu, "cpuLimit": cpu, "memoryRequest": mem, "memoryLimit": mem});
    json!({
        "apiVersion": INPUT_API_VERSION,
        "kind": INPUT_KIND,
        "metadata": {},
        "providerConfigRef": {"name": "in-cluster", "kind": "ProviderConfig"},
        "output": "Direct",
        "nats": {
            "url": "tls://nats.prod.svc:4222",
            "monitoringEndpoint": "nats-mon.prod.svc:8222",
            "account": "APP",
            "accountID": "ACCT",
        },
        "sizes": {
            "small": row("100m", "128Mi"),
            "medium": row("200m", "256Mi"),
            "large": row("300m", "384Mi"),
        },
        "ttl": "5m",
    })
}

#[test]
fn the_settings_parser_reads_every_field_of_the_input_crd() {
    let input = full_input();
    let declared = leaves_of_schema(&input_crd_schema());
    let set = leaves_of_value(&input);
    assert_eq!(
        set, declared,
        "the full Input of this test (left) must cover the Input CRD (right)"
    );
    let got = Settings::from_input(Some(&input))
        .unwrap_or_else(|e| panic!("the full Input is refused: {e:?}"));
    let default = Settings::default();
    let unchanged = [
        ("output", got.output == default.output),
        (
            "providerConfigRef.name",
            got.provider_config_ref.name == default.provider_config_ref.name,
        ),
        (
            "providerConfigRef.kind",
            got.provider_config_ref.kind == default.provider_config_ref.kind,
        ),
        ("nats.url", got.nats_url == default.nats_url),
        (
            "nats.monitoringEndpoint",
            got.nats_monitoring_endpoint == default.nats_monitoring_endpoint,
        ),
        ("nats.account", got.nats_account == default.nats_account),
        (
            "nats.accountID",
            got.nats_account_id == default.nats_account_id,
        ),
        ("sizes.small", got.sizes.small == default.sizes.small),
        ("sizes.medium", got.sizes.medium == default.sizes.medium),
        ("sizes.large", got.sizes.large == default.sizes.large),
        ("ttl", got.ttl == default.ttl),
    ];
    let ignored: Vec<&str> = unchanged
        .iter()
        .filter(|(_, same)| *same)
        .map(|(f, _)| *f)
        .collect();
    assert!(
        ignored.is_empty(),
        "the settings parser ignored {ignored:?}"
    );
}

/// Every object node of a schema, by field path (`""` for the root).
fn objects(node: &Value, prefix: &str, out: &mut Vec<(String, Vec<String>)>) {
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        out.push((prefix.to_string(), props.keys().cloned().collect()));
        for (name, prop) in props {
            objects(prop, &join(prefix, name), out);
        }
    }
}

#[test]
fn the_settings_parser_refuses_exactly_what_the_input_crd_does_not_declare() {
    let mut nodes = Vec::new();
    objects(&input_crd_schema(), "", &mut nodes);
    for (path, declared) in nodes {
        if path == "metadata" {
            continue;
        }
        let mut input = full_input();
        let target = if path.is_empty() {
            Some(&mut input)
        } else {
            input.pointer_mut(&format!("/{}", path.replace('.', "/")))
        };
        target
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("the full Input has no object at {path:?}"))
            .insert("zzUnknown".into(), json!(1));
        let errors = Settings::from_input(Some(&input)).expect_err("an unknown field is refused");
        let at = format!("input.{}", join(&path, "zzUnknown"));
        let error = errors
            .iter()
            .find(|e| e.path == at)
            .unwrap_or_else(|| panic!("no error at {at}: {errors:?}"));
        let offered: BTreeSet<&str> = error
            .message
            .split_once("expected one of: ")
            .map(|(_, list)| list.split(", ").collect())
            .unwrap_or_default();
        let declared: BTreeSet<&str> = declared.iter().map(String::as_str).collect();
        assert_eq!(
            offered, declared,
            "at {at}: the settings parser (left) and the Input CRD (right) accept different fields"
        );
    }
}

/// The schema at a dotted path of the XRD spec (`[]` steps into list items).
fn spec_node(path: &str) -> &'static Value {
    let mut node = schema::spec_schema();
    for part in path.split('.') {
        let (name, items) = part
            .strip_suffix("[]")
            .map_or((part, false), |name| (name, true));
        node = &node["properties"][name];
        if items {
            node = &node["items"];
        }
    }
    node
}

/// Every `pattern` of a schema by field path.
fn patterns(node: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if node.get("pattern").is_some() {
        out.insert(prefix.to_string());
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            patterns(prop, &join(prefix, name), out);
        }
    }
    if let Some(items) = node.get("items") {
        patterns(items, &format!("{prefix}[]"), out);
    }
}

#[test]
fn xrd_patterns_and_lengths_are_the_parsers() {
    let subdomain = (
        rules::DNS1123_SUBDOMAIN_PATTERN,
        Some(rules::DNS1123_SUBDOMAIN_MAX),
    );
    let table = [
        ("image", (rules::IMAGE_PATTERN, None)),
        ("nats.url", (rules::NATS_URL_PATTERN, None)),
        ("nats.stream", (rules::NATS_NAME_PATTERN, None)),
        ("nats.consumer", (rules::NATS_NAME_PATTERN, None)),
        ("nats.monitoringEndpoint", (rules::HOST_PORT_PATTERN, None)),
        ("secret1Name", subdomain),
        ("secret2Name", subdomain),
        ("secret3Name", subdomain),
        ("secret4Name", subdomain),
        ("secret5Name", subdomain),
        ("secretRefs[].name", subdomain),
        ("imagePullSecrets[].name", subdomain),
        (
            "secretRefs[].env[].secretKey",
            (
                rules::SECRET_KEY_PATTERN,
                Some(rules::DNS1123_SUBDOMAIN_MAX),
            ),
        ),
        (
            "secretRefs[].env[].envName",
            (rules::ENV_NAME_PATTERN, Some(rules::ENV_NAME_MAX)),
        ),
    ];
    for (path, (pattern, max_length)) in table {
        let node = spec_node(path);
        assert_eq!(
            node["pattern"].as_str(),
            Some(pattern),
            "{path}: the XRD's pattern (left) is not the parser's (right)"
        );
        assert_eq!(
            node.get("maxLength").and_then(Value::as_u64),
            max_length.map(|m| m as u64),
            "{path}: maxLength"
        );
    }
    let mut all = BTreeSet::new();
    patterns(schema::spec_schema(), "", &mut all);
    let covered: BTreeSet<String> = table.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(all, covered, "every XRD pattern must be checked here");

    let input_endpoint = input_crd_schema()
        .pointer("/properties/nats/properties/monitoringEndpoint/pattern")
        .cloned();
    assert_eq!(input_endpoint, Some(json!(rules::HOST_PORT_PATTERN)));
}

#[test]
fn xrd_and_parser_agree_on_nats_urls() {
    // One pattern, two regex engines (the schema validator's and the parser's): probe the
    // edges the pattern draws.
    let xrd = jsonschema::draft7::new(&crd_to_json_schema(schema::spec_schema()))
        .expect("the spec schema compiles");
    let cases = [
        ("the default", "nats://nats.nats.svc:4222", true),
        ("every scheme", "tls://a:4222,ws://b:80,wss://c:443", true),
        ("no port", "nats://nats", true),
        ("an http URL", "http://nats:4222", false),
        ("no scheme", "nats.nats.svc:4222", false),
        ("a scheme without a host", "nats://", false),
        (
            "a space after a comma",
            "nats://a:4222, nats://b:4222",
            false,
        ),
        ("a trailing comma", "nats://a:4222,", false),
        (
            "a second server without a scheme",
            "nats://a:4222,b:4222",
            false,
        ),
        ("an empty URL", "", false),
    ];
    let mut disagreements = Vec::new();
    for (reason, url, want) in cases {
        let spec = probe("nats.url", json!(url));
        let by_xrd = xrd.is_valid(&spec);
        let by_parser = Spec::parse(&spec).is_ok();
        if by_xrd != want || by_parser != want {
            disagreements.push(format!(
                "{reason} ({url:?}): the XRD {}, the parser {}, want {}",
                verdict(by_xrd),
                verdict(by_parser),
                verdict(want)
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn reserved_environment_variables_are_refused_by_the_xrd() {
    let rules = spec_node("secretRefs[].env[].envName")["x-kubernetes-validations"].to_string();
    for name in rules::RESERVED_ENV {
        assert!(
            rules.contains(&format!("'{name}'")),
            "the XRD's envName rule must refuse {name}, as the parser does"
        );
    }
    let quoted = rules.matches("'NATS_").count();
    assert_eq!(quoted, rules::RESERVED_ENV.len(), "no other names: {rules}");
}

/// The full example, with the widest replica range: the XRD's CEL rule min <= max is not
/// evaluated here, so no bound probe may trip it.
fn probe_base() -> Value {
    let mut spec = full_spec();
    spec["scaling"]["minReplicas"] = json!(0);
    spec["scaling"]["maxReplicas"] = json!(i32::MAX);
    spec
}

/// The probe base with one field set at a dotted path (`[]` steps into the first item).
fn probe(path: &str, value: Value) -> Value {
    let mut spec = probe_base();
    let mut node = &mut spec;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let (name, items) = part
            .strip_suffix("[]")
            .map_or((*part, false), |name| (name, true));
        let map = node.as_object_mut().expect("an object on the way");
        if i + 1 == parts.len() {
            map.insert(name.to_string(), value);
            break;
        }
        node = map.get_mut(name).expect("the full example sets the path");
        if items {
            node = node
                .as_array_mut()
                .and_then(|a| a.first_mut())
                .expect("a list item");
        }
    }
    spec
}

#[test]
fn xrd_bounds_enums_and_required_fields_match_the_parser() {
    let xrd = jsonschema::draft7::new(&crd_to_json_schema(schema::spec_schema()))
        .expect("the spec schema compiles");
    let mut probes: Vec<(String, Value)> = Vec::new();
    let mut walk: Vec<(String, &Value)> = vec![(String::new(), schema::spec_schema())];
    while let Some((path, node)) = walk.pop() {
        if let Some(min) = node.get("minimum").and_then(Value::as_i64) {
            probes.push((
                format!("{path} = {}", min - 1),
                probe(&path, json!(min - 1)),
            ));
            probes.push((format!("{path} = {min}"), probe(&path, json!(min))));
        }
        if let Some(max) = node.get("maximum").and_then(Value::as_i64) {
            probes.push((format!("{path} = {max}"), probe(&path, json!(max))));
            probes.push((
                format!("{path} = {}", max + 1),
                probe(&path, json!(max + 1)),
            ));
        }
        if let Some(max) = node.get("maxLength").and_then(Value::as_u64) {
            for len in [max, max + 1] {
                let value = "a".repeat(usize::try_from(len).expect("small"));
                probes.push((
                    format!("{path} of {len} characters"),
                    probe(&path, json!(value)),
                ));
            }
        }
        for member in node
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            probes.push((format!("{path} = {member}"), probe(&path, member.clone())));
        }
        if node.get("enum").is_some() {
            probes.push((format!("{path} off the enum"), probe(&path, json!("zz"))));
        }
        if node.get("type").and_then(Value::as_str) == Some("object") && !path.is_empty() {
            probes.push((format!("{path} with an unknown field"), {
                let mut spec = probe_base();
                let pointer = format!("/{}", path.replace("[]", "/0").replace('.', "/"));
                if let Some(map) = spec.pointer_mut(&pointer).and_then(Value::as_object_mut) {
                    map.insert("zzUnknown".into(), json!(1));
                }
                spec
            }));
        }
        for required in node
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = join(&path, required.as_str().unwrap_or_default());
            let mut spec = probe_base();
            let pointer = format!("/{}", field.replace("[]", "/0").replace('.', "/"));
            let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
            if let Some(map) = spec.pointer_mut(parent).and_then(Value::as_object_mut) {
                map.remove(key);
            }
            probes.push((format!("{field} missing"), spec));
        }
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                walk.push((join(&path, name), prop));
            }
        }
        if let Some(items) = node.get("items") {
            walk.push((format!("{path}[]"), items));
        }
    }
    assert!(probes.len() > 30, "too few probes: {}", probes.len());
    let mut disagreements = Vec::new();
    for (what, spec) in &probes {
        let by_xrd = xrd.is_valid(spec);
        let by_parser = Spec::parse(spec).is_ok();
        if by_xrd != by_parser {
            disagreements.push(format!(
                "{what}: the XRD {} it, the parser {}",
                verdict(by_xrd),
                verdict(by_parser)
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn xrd_list_bounds_are_the_parsers() {
    // The list bounds keep the CEL rule on envName within the API server's cost budget. The
    // bounds probe above cannot reach them (copies of one item clash as duplicates), so each
    // list is filled with distinct items here.
    let xrd = jsonschema::draft7::new(&crd_to_json_schema(schema::spec_schema()))
        .expect("the spec schema compiles");
    let secrets = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"name": format!("secret-{i}"), "envFrom": true}))
            .collect()
    };
    let keys = |n: usize| -> Value {
        let env: Vec<Value> = (0..n)
            .map(|i| json!({"secretKey": format!("key-{i}"), "envName": format!("VAR_{i}")}))
            .collect();
        json!([{"name": "keyed", "env": env}])
    };
    /// Builds `secretRefs` with n items in the list under test.
    type Fill = fn(usize) -> Value;
    let table: [(&str, usize, Fill); 2] = [
        ("secretRefs", rules::MAX_SECRET_REFS, secrets),
        ("secretRefs[].env", rules::MAX_SECRET_KEYS, keys),
    ];
    let mut disagreements = Vec::new();
    for (path, max, fill) in table {
        assert_eq!(
            spec_node(path).get("maxItems").and_then(Value::as_u64),
            Some(max as u64),
            "{path}: the XRD's maxItems is not the parser's"
        );
        for (n, want) in [(max, true), (max + 1, false)] {
            let mut spec = full_spec();
            spec["secretRefs"] = fill(n);
            let (by_xrd, by_parser) = (xrd.is_valid(&spec), Spec::parse(&spec).is_ok());
            if by_xrd != want || by_parser != want {
                disagreements.push(format!(
                    "{path} with {n} items: the XRD {}, the parser {}, want {}",
                    verdict(by_xrd),
                    verdict(by_parser),
                    verdict(want)
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "accepts"
    } else {
        "refuses"
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
    /// The XRD side, with the two removals applied.
    fn without_extensions(node: &Value) -> Value {
        match node {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !k.starts_with("x-kubernetes-") && k.as_str() != "format")
                    .map(|(k, v)| (k.clone(), without_extensions(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut json_schema = schema::claim_json_schema();
    // The other addition: Crossplane's own spec fields, let through untyped, and exactly those.
    let props = json_schema["properties"]["spec"]["properties"]
        .as_object_mut()
        .expect("spec has properties");
    for field in function_event_driven_service::api::rules::CROSSPLANE_SPEC_FIELDS {
        let added = props.remove(*field);
        assert!(
            added.is_some_and(|v| v.get("type").is_none()),
            "{field} not let through untyped"
        );
    }
    assert_eq!(
        without_closed_objects(&json_schema["properties"]["spec"]),
        without_extensions(schema::spec_schema())
    );
}

#[test]
fn the_claim_name_limit_is_the_functions() {
    assert_eq!(
        schema::MAX_CLAIM_NAME + placement::SCALER_SUFFIX.len(),
        placement::MAX_SCALED_OBJECT_NAME
    );
    let json_schema = schema::claim_json_schema();
    assert_eq!(
        json_schema.pointer("/properties/metadata/properties/name/maxLength"),
        Some(&json!(schema::MAX_CLAIM_NAME))
    );
}

/// A JSON value as the API server hands it to CEL: every integer an `int`.
struct AsCel<'a>(&'a Value);

impl serde::Serialize for AsCel<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Number(n) => match n.as_i64() {
                Some(i) => s.serialize_i64(i),
                None => n.serialize(s),
            },
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&AsCel(item))?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k, &AsCel(v))?;
                }
                m.end()
            }
            other => other.serialize(s),
        }
    }
}

/// Every CEL rule of a schema with the path of the node it guards.
fn cel_rules(node: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    for rule in node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rule = rule["rule"].as_str().expect("a rule").to_string();
        out.push((prefix.to_string(), rule));
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            cel_rules(prop, &join(prefix, name), out);
        }
    }
    if let Some(items) = node.get("items") {
        cel_rules(items, &format!("{prefix}[]"), out);
    }
}

/// The values at a dotted path (`[]` fans out over list items); none where the path is unset.
fn values_at<'a>(value: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![value];
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, items) = part
            .strip_suffix("[]")
            .map_or((part, false), |name| (name, true));
        current = current
            .into_iter()
            .filter_map(|v| v.get(name))
            .flat_map(|v| match (items, v.as_array()) {
                (true, Some(list)) => list.iter().collect(),
                (true, None) => Vec::new(),
                (false, _) => vec![v],
            })
            .collect();
    }
    current
}

/// Whether the API server would take `spec`: its schema, then every CEL rule on the defaulted
/// object, as the API server orders them.
fn xrd_accepts(
    schema: &jsonschema::Validator,
    rules: &[(String, cel::Program)],
    spec: &Value,
) -> Result<(), String> {
    if !schema.is_valid(spec) {
        return Err("refused by the schema".into());
    }
    let stored = apply_defaults(schema::spec_schema(), spec);
    for (path, program) in rules {
        for node in values_at(&stored, path) {
            let mut context = cel::Context::default();
            context
                .add_variable("self", AsCel(node))
                .map_err(|e| format!("{path}: {e}"))?;
            match program.execute(&context) {
                Ok(cel::Value::Bool(true)) => {}
                other => return Err(format!("rule at {path} gives {other:?}")),
            }
        }
    }
    Ok(())
}

#[test]
fn xrd_cel_rules_compile_and_agree_with_the_parser() {
    let mut found = Vec::new();
    cel_rules(schema::spec_schema(), "", &mut found);
    assert_eq!(
        found.len(),
        4,
        "a CEL rule was added or removed: probe it here"
    );
    let rules: Vec<(String, cel::Program)> = found
        .into_iter()
        .map(|(path, rule)| {
            let program = cel::Program::compile(&rule)
                .unwrap_or_else(|e| panic!("the rule at {path} does not compile: {e}\n{rule}"));
            (path, program)
        })
        .collect();
    let schema = jsonschema::draft7::new(&crd_to_json_schema(schema::spec_schema()))
        .expect("the spec schema compiles");
    let base = full_spec();
    let with = |pointer: &str, value: Value| {
        let mut spec = base.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        let map = spec
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("the full example has the parent");
        if value.is_null() {
            map.remove(key);
        } else {
            map.insert(key.to_string(), value);
        }
        spec
    };
    let env = json!([{"secretKey": "k", "envName": "APP_KEY"}]);
    let cases = [
        ("the full example", base.clone()),
        (
            "a secret mounted whole and key by key",
            with("/secretRefs/0/envFrom", json!(true)),
        ),
        (
            "a secret mounted neither way",
            with("/secretRefs/0/env", json!([])),
        ),
        (
            "a secret with envFrom: false and keys",
            with("/secretRefs/0/envFrom", json!(false)),
        ),
        (
            "a whole secret with an empty key list",
            with("/secretRefs/1/env", json!([])),
        ),
        (
            "a whole secret with keys",
            with("/secretRefs/1/env", env.clone()),
        ),
        ("an empty init container", with("/initContainer", json!({}))),
        (
            "an init container with empty lists",
            with("/initContainer", json!({"command": [], "args": []})),
        ),
        (
            "an init container with args only",
            with("/initContainer", json!({"args": ["migrate"]})),
        ),
        (
            "an init container with a command only",
            with("/initContainer", json!({"command": ["migrate"]})),
        ),
        (
            "more minimum than maximum replicas",
            with("/scaling", json!({"minReplicas": 3, "maxReplicas": 2})),
        ),
        (
            "as many minimum as maximum replicas",
            with("/scaling", json!({"minReplicas": 3, "maxReplicas": 3})),
        ),
        (
            "a minimum above the default maximum",
            with("/scaling", json!({"minReplicas": 11})),
        ),
        (
            "a maximum below the default minimum",
            with("/scaling", json!({"maxReplicas": 1})),
        ),
        ("no scaling at all", with("/scaling", Value::Null)),
        (
            "a variable the platform sets",
            with(
                "/secretRefs/0/env",
                json!([{"secretKey": "url", "envName": "NATS_URL"}]),
            ),
        ),
        (
            "a variable that only resembles one the platform sets",
            with(
                "/secretRefs/0/env",
                json!([{"secretKey": "url", "envName": "NATS_URL_BACKUP"}]),
            ),
        ),
    ];
    let mut disagreements = Vec::new();
    for (reason, spec) in cases {
        let by_xrd = xrd_accepts(&schema, &rules, &spec);
        let by_parser = Spec::parse(&spec);
        if by_xrd.is_ok() != by_parser.is_ok() {
            disagreements.push(format!(
                "{reason}: the XRD says {by_xrd:?}, the parser {:?}",
                by_parser.err()
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
