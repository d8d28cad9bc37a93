//! The API is defined once, in the Rust types the XRDs are generated from. What is left to
//! hold together: the rules the function checks in Rust against the CEL rules the types carry
//! for the API server (each case evaluated by a CEL interpreter and by the function), the NATS
//! defaults the XRD leaves to the Input, and the shipped Compositions and examples against
//! the API.

mod upstream;

use function_event_driven_service::{
    api::definition,
    api::input::{Output, Settings},
    api::RESERVED_ENV,
};
use serde_json::{json, Value};
use upstream::{
    crd_to_json_schema, example_claims, read_yaml, repo_path, step_input, COMPOSITION_DIRECT,
    COMPOSITION_OBJECTS, COMPOSITION_V1,
};

const FULL_CLAIM: &str = "examples/full-claim.yaml";

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn full_spec() -> Value {
    read_yaml(&repo_path(FULL_CLAIM))
        .get("spec")
        .cloned()
        .expect("the full claim has a spec")
}

#[test]
fn nats_defaults_are_left_to_the_function_input() {
    let nats = definition::spec_schema()
        .pointer("/properties/nats/properties")
        .expect("nats properties");
    let input = definition::input_schema()
        .pointer("/properties/nats/properties")
        .expect("the Input's nats properties");
    for field in ["url", "monitoringEndpoint", "account"] {
        let prop = &nats[field];
        assert!(
            prop.get("default").is_none(),
            "nats.{field} must have no API-server default: the function Input decides it"
        );
        let default = input[field]["default"].as_str().expect("an Input default");
        let description = prop["description"].as_str().unwrap_or_default();
        assert!(
            description.contains(&format!("`{default}`")),
            "nats.{field}'s description must name the Input's default `{default}`"
        );
    }
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
    let stored = apply_defaults(definition::spec_schema(), spec);
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

/// Every CEL rule of the XRD's spec, compiled, with the path of the node it guards.
fn compiled_cel_rules() -> Vec<(String, cel::Program)> {
    let mut found = Vec::new();
    cel_rules(definition::spec_schema(), "", &mut found);
    assert_eq!(
        found.len(),
        15,
        "a CEL rule was added or removed: probe it in xrd_cel_rules_compile_and_agree_with_the_parser"
    );
    found
        .into_iter()
        .map(|(path, rule)| {
            let program = cel::Program::compile(&rule)
                .unwrap_or_else(|e| panic!("the rule at {path} does not compile: {e}\n{rule}"));
            (path, program)
        })
        .collect()
}

#[test]
fn xrd_cel_rules_compile_and_agree_with_the_parser() {
    let rules = compiled_cel_rules();
    let schema = jsonschema::draft7::new(&crd_to_json_schema(definition::spec_schema()))
        .expect("the spec schema compiles");
    let base = full_spec();
    let with = |pointer: &str, value: Value| {
        let mut spec = base.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        let key = key.replace("~1", "/");
        let map = spec
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("the full example has the parent");
        if value.is_null() {
            map.remove(&key);
        } else {
            map.insert(key, value);
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
            "a plain variable the platform sets",
            with("/env/NATS_URL", json!("nats://elsewhere:4222")),
        ),
        (
            "a plain variable of our own",
            with("/env/APP_MODE", json!("batch")),
        ),
        (
            "a ConfigMap mounted neither way",
            with("/configMapRefs/1/env", json!([])),
        ),
        (
            "a ConfigMap mounted whole and key by key",
            with(
                "/configMapRefs/0/env",
                json!([{"configMapKey": "k", "envName": "APP_K"}]),
            ),
        ),
        (
            "a ConfigMap key under a name the platform sets",
            with(
                "/configMapRefs/1/env",
                json!([{"configMapKey": "k", "envName": "NATS_STREAM_NAME"}]),
            ),
        ),
        (
            "an idle count at minReplicas",
            with("/scaling", json!({"minReplicas": 0, "idleReplicas": 0})),
        ),
        (
            "an idle count below minReplicas",
            with("/scaling", json!({"minReplicas": 2, "idleReplicas": 0})),
        ),
        (
            "a file from a Secret and a ConfigMap at once",
            with("/files/0/configMap", json!("both")),
        ),
        ("a file from neither", with("/files/0/secret", Value::Null)),
        (
            "a probe with two handlers",
            with("/probes/liveness/exec", json!({"command": ["true"]})),
        ),
        (
            "a startup probe with a command",
            with("/probes/startup", json!({"exec": {"command": ["true"]}})),
        ),
        (
            "a pod label the function sets",
            with("/podLabels/app.kubernetes.io~1name", json!("other")),
        ),
        (
            "a disruption budget with both counts",
            with("/disruptionBudget/minAvailable", json!("50%")),
        ),
        (
            "a disruption budget by percentage",
            with("/disruptionBudget", json!({"minAvailable": "50%"})),
        ),
        (
            "a preStop sleep as long as the grace period",
            with(
                "/shutdown",
                json!({"gracePeriodSeconds": 20, "preStopSleepSeconds": 20}),
            ),
        ),
        (
            "a preStop sleep within the grace period",
            with(
                "/shutdown",
                json!({"gracePeriodSeconds": 20, "preStopSleepSeconds": 19}),
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
    let reserved = RESERVED_ENV.map(|name| {
        let env = json!([{"secretKey": "url", "envName": name}]);
        (name, with("/secretRefs/0/env", env))
    });
    let mut disagreements = Vec::new();
    for (reason, spec) in cases.into_iter().chain(reserved) {
        let by_xrd = xrd_accepts(&schema, &rules, &spec);
        let by_parser = function_event_driven_service::api::parse_spec(&spec);
        if by_xrd.is_ok() != by_parser.is_ok() {
            disagreements.push(format!(
                "{reason}: the XRD says {by_xrd:?}, the parser {:?}",
                by_parser.err()
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn every_example_claim_is_accepted_by_the_xrd_and_the_function() {
    let schema = jsonschema::draft7::new(&crd_to_json_schema(definition::spec_schema()))
        .expect("the spec schema compiles");
    let rules = compiled_cel_rules();
    for (file, claim) in example_claims() {
        let spec = &claim["spec"];
        let file = file.display();
        if let Err(e) = xrd_accepts(&schema, &rules, spec) {
            panic!("{file}: the XRD refuses it: {e}");
        }
        if let Err(e) = function_event_driven_service::api::parse_spec(spec) {
            panic!("{file}: the function refuses it: {e:?}");
        }
    }
}
