//! The rules of a spec that its schema cannot state as structure: each spans several fields.
//! The XRD states some of them as CEL rules for the API server; tests/source_of_truth.rs holds
//! the two statements to the same verdicts.
//!
//! The rules read the spec as it is, beside the structural check, so that a claim's every
//! mistake is reported at once; a field the structural check already refused takes no part.

use crate::{
    api::{field_error::FieldError, spec::SECRET_SLOTS},
    document::tree::{Node, Tree},
};
use std::collections::BTreeMap;

/// Environment variables the function sets itself; secrets may not shadow them.
pub const RESERVED_ENV: [&str; 3] = ["NATS_URL", "NATS_STREAM_NAME", "NATS_CONSUMER_GROUP"];

/// Every broken rule of `spec`, leaving out fields at the paths of `wrong` (the structural
/// check's mistakes).
pub fn check<N: Tree>(spec: &N, wrong: &[FieldError]) -> Vec<FieldError> {
    let mut rules = Rules {
        wrong,
        errors: Vec::new(),
        // Every variable the containers get, with the field that set it, to catch duplicates.
        env: RESERVED_ENV
            .iter()
            .map(|n| (n.to_string(), "the function itself".to_string()))
            .collect(),
        whole: BTreeMap::new(),
        whole_config_maps: BTreeMap::new(),
    };
    // In the order the containers get them: plain values (sorted), then secrets, then
    // ConfigMaps, so a duplicate names the field that set the variable first.
    for (name, _) in spec.get("env").map(Tree::entries).into_iter().flatten() {
        let path = format!("spec.env.{name}");
        if !is_c_identifier(name) {
            rules.errors.push(FieldError::new(
                path,
                "must be a C identifier (letters, digits and `_`, not starting with a digit)",
            ));
        } else {
            rules.unique(Seen::Env, name, path);
        }
    }
    for key in SECRET_SLOTS {
        // Most claims leave the slots empty: a path is spelt out only for one that is set.
        let Some(value) = spec.get(key) else {
            continue;
        };
        let path = format!("spec.{key}");
        if let Some(name) = rules.text(Some(value), &path) {
            rules.unique(Seen::Whole, name, path);
        }
    }
    for (i, item) in items(spec.get("secretRefs")).iter().enumerate() {
        rules.env_source(item, &format!("spec.secretRefs[{i}]"), Seen::Whole);
    }
    for (i, item) in items(spec.get("configMapRefs")).iter().enumerate() {
        rules.env_source(
            item,
            &format!("spec.configMapRefs[{i}]"),
            Seen::WholeConfigMap,
        );
    }
    let mut pulls = BTreeMap::new();
    for (i, item) in items(spec.get("imagePullSecrets")).iter().enumerate() {
        let path = format!("spec.imagePullSecrets[{i}].name");
        if let Some(name) = rules.text(item.get("name"), &path) {
            rules.unique(Seen::Other("image pull secret", &mut pulls), name, path);
        }
    }
    if let Some(init) = spec
        .get("initContainer")
        .filter(|v| matches!(v.node(), Node::Object))
    {
        let unset = |key| {
            init.get(key)
                .is_none_or(|v| v.as_list().is_some_and(<[N]>::is_empty))
        };
        if unset("command") && unset("args") {
            rules.errors.push(FieldError::new(
                "spec.initContainer",
                "set `command` or `args`: without them the init container would run the worker itself",
            ));
        }
    }
    rules.errors
}

struct Rules<'a> {
    wrong: &'a [FieldError],
    errors: Vec<FieldError>,
    env: BTreeMap<String, String>,
    /// Secrets mounted whole, which may be mounted only once.
    whole: BTreeMap<String, String>,
    /// ConfigMaps mounted whole, likewise.
    whole_config_maps: BTreeMap<String, String>,
}

/// Which names a value must be unique among.
enum Seen<'a> {
    Env,
    Whole,
    WholeConfigMap,
    Other(&'a str, &'a mut BTreeMap<String, String>),
}

impl Rules<'_> {
    /// The string at `path`, unless it is absent or structurally wrong.
    fn text<'n, N: Tree>(&self, value: Option<&'n N>, path: &str) -> Option<&'n str> {
        checked(value, path, self.wrong)?.as_str()
    }

    /// A Secret or ConfigMap mounted whole or key by key; `whole` is where whole ones count.
    fn env_source<N: Tree>(&mut self, item: &N, path: &str, whole: Seen<'_>) {
        let env_from = item
            .get("envFrom")
            .is_some_and(|v| matches!(v.node(), Node::Bool(true)));
        let keys = items(item.get("env"));
        match (env_from, !keys.is_empty()) {
            (true, true) => self.errors.push(FieldError::new(
                path,
                "set either `envFrom: true` (every key) or `env` (chosen keys), not both",
            )),
            (false, false) => self.errors.push(FieldError::new(
                path,
                "set `envFrom: true` to mount every key, or list chosen keys under `env`",
            )),
            (true, false) => {
                let name_path = format!("{path}.name");
                if let Some(name) = self.text(item.get("name"), &name_path) {
                    self.unique(whole, name, name_path);
                }
            }
            (false, true) => {}
        }
        for (i, key) in keys.iter().enumerate() {
            let env_path = format!("{path}.env[{i}].envName");
            if let Some(name) = self.text(key.get("envName"), &env_path) {
                self.unique(Seen::Env, name, env_path);
            }
        }
    }

    /// Records `value` at `path`, or reports where it was already used.
    fn unique(&mut self, among: Seen<'_>, value: &str, path: String) {
        let (what, seen) = match among {
            Seen::Env => ("environment variable", &mut self.env),
            Seen::Whole => ("secret mounted with envFrom", &mut self.whole),
            Seen::WholeConfigMap => (
                "ConfigMap mounted with envFrom",
                &mut self.whole_config_maps,
            ),
            Seen::Other(what, seen) => (what, seen),
        };
        if let Some(first) = seen.get(value) {
            let message = format!("duplicate {what} {value:?} (already set by {first})");
            self.errors.push(FieldError::new(path, message));
        } else {
            seen.insert(value.to_string(), path);
        }
    }
}

/// Whether the mistakes found so far (the structural check's, and those of the rules run
/// before) leave the field at `path` alone. The rules read only such fields, so each mistake
/// is reported once, by the check that states it best. The match is exact: the rules read
/// scalars, and a scalar of the wrong shape is reported at its own path, never below it.
pub(crate) fn unrefused(wrong: &[FieldError], path: &str) -> bool {
    !wrong.iter().any(|e| e.path == path)
}

/// The value at `path`, unless it is absent, null, or refused by a mistake found so far.
pub(crate) fn checked<'n, N: Tree>(
    value: Option<&'n N>,
    path: &str,
    wrong: &[FieldError],
) -> Option<&'n N> {
    value
        .filter(|v| !v.is_null())
        .filter(|_| unrefused(wrong, path))
}

/// Whether a name is a C identifier, as environment variable names must be.
fn is_c_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The items of a list field; none when it is absent or no list.
pub(crate) fn items<N: Tree>(value: Option<&N>) -> &[N] {
    value.and_then(Tree::as_list).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_field_is_that_field_alone() {
        let wrong = [
            FieldError::new("spec.tmpDirs[10]", "must be an absolute path"),
            FieldError::new("spec.podLabels.application", "must be a string"),
            FieldError::new("spec.disruptionBudget.maxUnavailableX", "unknown field"),
            FieldError::new("spec.secret1Name.x", "unknown field"),
        ];
        for (path, refused) in [
            ("spec.tmpDirs[10]", true),
            ("spec.tmpDirs[1]", false),
            ("spec.podLabels.application", true),
            ("spec.podLabels.app", false),
            ("spec.disruptionBudget.maxUnavailable", false),
            ("spec.secret1Name", false),
        ] {
            assert_eq!(!unrefused(&wrong, path), refused, "{path}");
        }
    }
}
