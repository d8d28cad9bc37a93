//! The rules of a spec's environment that its schema cannot state: each spans several fields.
//! Plain functions over the typed spec; the schema states some of them as CEL rules for the
//! API server, and tests/cel_rules.rs holds the two to the same verdicts.

use crate::api::{field_error::FieldError, spec::Spec};
use std::collections::BTreeMap;

/// Environment variables the function sets itself; secrets may not shadow them.
pub const RESERVED_ENV: [&str; 3] = ["NATS_URL", "NATS_STREAM_NAME", "NATS_CONSUMER_GROUP"];

/// Every broken rule of the environment, the mounted Secrets and ConfigMaps, the pull secrets
/// and the init container of `spec`.
pub fn check(spec: &Spec) -> Vec<FieldError> {
    let mut rules = Rules {
        errors: Vec::new(),
        // Every variable the containers get, with the field that set it, to catch duplicates.
        env: RESERVED_ENV
            .iter()
            .map(|n| (n.to_string(), "the function itself".to_string()))
            .collect(),
        whole: BTreeMap::new(),
        whole_config_maps: BTreeMap::new(),
        pulls: BTreeMap::new(),
    };
    // In the order the containers get them: plain values (sorted), then secrets, then
    // ConfigMaps, so a duplicate names the field that set the variable first.
    for name in spec.env.keys() {
        let path = format!("spec.env.{name}");
        if is_c_identifier(name) {
            rules.unique(Seen::Env, name, path);
        } else {
            rules.errors.push(FieldError::new(
                path,
                "must be a C identifier (letters, digits and `_`, not starting with a digit)",
            ));
        }
    }
    for (i, slot) in spec.secret_slots().iter().enumerate() {
        if let Some(name) = slot {
            rules.unique(Seen::Whole, name, format!("spec.secret{}Name", i + 1));
        }
    }
    for (i, secret) in spec.secret_refs.iter().enumerate() {
        let keys = secret.env.iter().map(|k| k.env_name.as_str());
        let path = format!("spec.secretRefs[{i}]");
        rules.env_source(&path, &secret.name, secret.env_from, keys, Seen::Whole);
    }
    for (i, config_map) in spec.config_map_refs.iter().enumerate() {
        let keys = config_map.env.iter().map(|k| k.env_name.as_str());
        let path = format!("spec.configMapRefs[{i}]");
        let whole = Seen::WholeConfigMap;
        rules.env_source(&path, &config_map.name, config_map.env_from, keys, whole);
    }
    for (i, pull) in spec.image_pull_secrets.iter().enumerate() {
        let path = format!("spec.imagePullSecrets[{i}].name");
        rules.unique(Seen::Pull, &pull.name, path);
    }
    if let Some(init) = &spec.init_container {
        if init.command.is_empty() && init.args.is_empty() {
            rules.errors.push(FieldError::new(
                "spec.initContainer",
                "set `command` or `args`: without them the init container would run the worker itself",
            ));
        }
    }
    rules.errors
}

struct Rules {
    errors: Vec<FieldError>,
    env: BTreeMap<String, String>,
    /// Secrets mounted whole, which may be mounted only once.
    whole: BTreeMap<String, String>,
    /// ConfigMaps mounted whole, likewise.
    whole_config_maps: BTreeMap<String, String>,
    /// Pull secrets, each listed once.
    pulls: BTreeMap<String, String>,
}

/// Which names a value must be unique among.
enum Seen {
    Env,
    Whole,
    WholeConfigMap,
    Pull,
}

impl Rules {
    /// A Secret or ConfigMap mounted whole or key by key; `whole` is where whole ones count.
    fn env_source<'k>(
        &mut self,
        path: &str,
        name: &str,
        env_from: Option<bool>,
        keys: impl ExactSizeIterator<Item = &'k str>,
        whole: Seen,
    ) {
        match (env_from == Some(true), keys.len() > 0) {
            (true, true) => self.errors.push(FieldError::new(
                path,
                "set either `envFrom: true` (every key) or `env` (chosen keys), not both",
            )),
            (false, false) => self.errors.push(FieldError::new(
                path,
                "set `envFrom: true` to mount every key, or list chosen keys under `env`",
            )),
            (true, false) => self.unique(whole, name, format!("{path}.name")),
            (false, true) => {}
        }
        for (i, key) in keys.enumerate() {
            self.unique(Seen::Env, key, format!("{path}.env[{i}].envName"));
        }
    }

    /// Records `value` at `path`, or reports where it was already used.
    fn unique(&mut self, among: Seen, value: &str, path: String) {
        let (what, seen) = match among {
            Seen::Env => ("environment variable", &mut self.env),
            Seen::Whole => ("secret mounted with envFrom", &mut self.whole),
            Seen::WholeConfigMap => (
                "ConfigMap mounted with envFrom",
                &mut self.whole_config_maps,
            ),
            Seen::Pull => ("image pull secret", &mut self.pulls),
        };
        if let Some(first) = seen.get(value) {
            let message = format!("duplicate {what} {value:?} (already set by {first})");
            self.errors.push(FieldError::new(path, message));
        } else {
            seen.insert(value.to_string(), path);
        }
    }
}

/// Whether a name is a C identifier, as environment variable names must be.
fn is_c_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
