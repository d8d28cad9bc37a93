//! The rules of the pod fields that their schema cannot state: mount paths that must not
//! overlap, probes with one handler, Kubernetes label and annotation keys, tolerations,
//! affinity, and the disruption budget's counts. Like `rules.rs`, they read the spec as it is
//! and leave out the fields the structural check already refused.

use crate::{
    api::{
        field_error::FieldError,
        rules::{items, unrefused},
    },
    document::tree::{self, Node, Tree},
};
use k8s_openapi::api::core::v1::Affinity;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::sync::LazyLock;

/// A label value, or the name part of a key.
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
        .unwrap_or_else(|e| unreachable!("a fixed pattern: {e}"))
});
/// A DNS-1123 subdomain, the prefix of a key.
static SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
        .unwrap_or_else(|e| unreachable!("a fixed pattern: {e}"))
});

/// The labels the function sets on every pod, which `podLabels` may not set (the XRD's CEL
/// rule on `podLabels` names the same four).
pub const OWNED_LABELS: [&str; 4] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
];

/// Every broken rule of the pod fields of `spec`, leaving out the paths in `wrong`.
pub fn check<N: Tree>(spec: &N, wrong: &[FieldError]) -> Vec<FieldError> {
    let mut errors = Vec::new();

    let mut mounts = Vec::new();
    for (i, file) in items(spec.get("files")).iter().enumerate() {
        let path = format!("spec.files[{i}]");
        if file.get("secret").is_some() == file.get("configMap").is_some() {
            errors.push(FieldError::new(
                path.as_str(),
                "set exactly one of `secret` or `configMap`",
            ));
        }
        if let Some(dir) = file.get("mountPath").and_then(Tree::as_str) {
            mounts.push((dir.to_string(), format!("{path}.mountPath")));
        }
        for (j, item) in items(file.get("items")).iter().enumerate() {
            let at = format!("{path}.items[{j}].path");
            let relative = item.get("path").and_then(Tree::as_str).unwrap_or_default();
            if unrefused(wrong, &at) && relative.split('/').any(|part| part == "..") {
                errors.push(FieldError::new(at, "must not contain a `..` segment"));
            }
        }
    }
    for (i, dir) in items(spec.get("tmpDirs")).iter().enumerate() {
        if let Some(dir) = dir.as_str() {
            mounts.push((dir.to_string(), format!("spec.tmpDirs[{i}]")));
        }
    }
    mounts.retain(|(_, path)| unrefused(wrong, path));
    errors.extend(overlapping_mounts(&mounts));

    for kind in ["liveness", "readiness", "startup"] {
        if let Some(probe) = spec.get("probes").and_then(|p| p.get(kind)) {
            errors.extend(probe_problem(probe, &format!("spec.probes.{kind}")));
        }
    }

    let keyed = [
        ("podLabels", true),
        ("podAnnotations", false),
        ("scheduling.nodeSelector", true),
        ("serviceAccount.annotations", false),
    ];
    for (field, label) in keyed {
        let map = field.split('.').try_fold(spec, |node, key| node.get(key));
        for (key, value) in map.map(Tree::entries).into_iter().flatten() {
            // Spelt out only for a mistake: most entries have none.
            let path = || format!("spec.{field}.{key}");
            if let Some(problem) = key_problem(key) {
                errors.push(FieldError::new(path(), problem));
            }
            let value = value.as_str().unwrap_or_default();
            if label && !value.is_empty() && !NAME.is_match(value) && unrefused(wrong, &path()) {
                errors.push(FieldError::new(
                    path(),
                    format!("must be a label value (at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit; got {value:?})"),
                ));
            }
            if field == "podLabels" && OWNED_LABELS.contains(&key) {
                errors.push(FieldError::new(
                    path(),
                    "is set by the function on every pod",
                ));
            }
        }
    }

    let scheduling = spec.get("scheduling");
    for (i, toleration) in items(scheduling.and_then(|s| s.get("tolerations")))
        .iter()
        .enumerate()
    {
        errors.extend(toleration_problem(
            toleration,
            &format!("spec.scheduling.tolerations[{i}]"),
        ));
    }
    if let Some(affinity) = scheduling.and_then(|s| s.get("affinity")) {
        errors.extend(affinity_problem(affinity, "spec.scheduling.affinity"));
    }
    if let Some(budget) = spec.get("disruptionBudget") {
        errors.extend(budget_problems(budget, "spec.disruptionBudget", wrong));
    }
    if let Some(shutdown) = spec.get("shutdown") {
        errors.extend(shutdown_problem(shutdown, "spec.shutdown"));
    }
    errors
}

/// Every broken rule of the worker defaults in the function Input, at `input.defaults.*`.
pub fn defaults_problems<N: Tree>(defaults: &N, wrong: &[FieldError]) -> Vec<FieldError> {
    let at = "input.defaults";
    let mounts: Vec<_> = items(defaults.get("tmpDirs"))
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((d.as_str()?.to_string(), format!("{at}.tmpDirs[{i}]"))))
        .filter(|(_, path)| unrefused(wrong, path))
        .collect();
    let mut errors = overlapping_mounts(&mounts);
    if let Some(budget) = defaults.get("disruptionBudget") {
        errors.extend(budget_problems(
            budget,
            &format!("{at}.disruptionBudget"),
            wrong,
        ));
    }
    if let Some(shutdown) = defaults.get("shutdown") {
        errors.extend(shutdown_problem(shutdown, &format!("{at}.shutdown")));
    }
    errors
}

/// Mount paths that are the same as, or inside, another one.
pub fn overlapping_mounts(mounts: &[(String, String)]) -> Vec<FieldError> {
    let trimmed = |dir: &str| dir.trim_end_matches('/').to_string() + "/";
    let mut errors = Vec::new();
    for (i, (dir, path)) in mounts.iter().enumerate() {
        let this = trimmed(dir);
        if let Some((_, first)) = mounts[..i].iter().find(|(other, _)| {
            let other = trimmed(other);
            this.starts_with(&other) || other.starts_with(&this)
        }) {
            errors.push(FieldError::new(
                path.as_str(),
                format!("{dir:?} is the same directory as, or nested with, {first}"),
            ));
        }
    }
    errors
}

fn probe_problem<N: Tree>(probe: &N, path: &str) -> Option<FieldError> {
    let handlers = ["httpGet", "tcpSocket", "exec", "grpc"];
    let set = handlers.iter().filter(|h| probe.get(h).is_some()).count();
    let disabled = probe
        .get("enabled")
        .is_some_and(|v| matches!(v.node(), Node::Bool(false)));
    if disabled && probe.entries().count() > 1 {
        return Some(FieldError::new(
            path,
            "`enabled: false` turns the probe off; remove its other fields",
        ));
    }
    (set > 1).then(|| {
        FieldError::new(
            path,
            "set at most one of `httpGet`, `tcpSocket`, `exec` or `grpc`",
        )
    })
}

/// Why `key` is not a Kubernetes label or annotation key, if it is not.
fn key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && SUBDOMAIN.is_match(p));
    let name_ok = name.len() <= 63 && NAME.is_match(name);
    (!prefix_ok || !name_ok).then(|| {
        format!(
            "{key:?} is not a Kubernetes key: an optional DNS subdomain prefix and `/`, then at \
             most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
        )
    })
}

fn toleration_problem<N: Tree>(toleration: &N, path: &str) -> Option<FieldError> {
    let text = |k| toleration.get(k).and_then(Tree::as_str).unwrap_or_default();
    let exists = text("operator") == "Exists";
    if exists && !text("value").is_empty() {
        return Some(FieldError::new(
            format!("{path}.value"),
            "must be empty when `operator` is Exists",
        ));
    }
    (text("key").is_empty() && !exists).then(|| {
        FieldError::new(
            format!("{path}.operator"),
            "must be Exists when `key` is empty (a toleration of every taint)",
        )
    })
}

/// A Kubernetes Affinity that does not read as one, or carries a field it does not have.
fn affinity_problem<N: Tree>(affinity: &N, path: &str) -> Option<FieldError> {
    // Read straight from the document: Kubernetes' type skips null fields as it skips absent
    // ones, so a document it reads gives the same Affinity as a JSON copy of it would.
    let lost = match tree::deserialize::<_, Affinity>(affinity, &[]) {
        Ok(typed) => first_unknown(affinity, &to_json(typed)),
        // A mistake (or a NaN, which JSON holds as null): read it again through a JSON copy,
        // so that the verdict is the copy's and the message is in serde_json's words (`null`,
        // its floats), as it always was. Only a broken affinity pays for the copy.
        Err(_) => {
            let given: Value = tree::deserialize(affinity, &[]).ok()?;
            match Affinity::deserialize(&given) {
                Ok(typed) => first_unknown(&given, &to_json(typed)),
                Err(e) => {
                    return Some(FieldError::new(
                        path,
                        format!("must be a Kubernetes Affinity ({e})"),
                    ))
                }
            }
        }
    };
    let mut lost = lost?;
    lost.reverse();
    Some(FieldError::new(
        path.to_string() + &lost.concat(),
        "unknown field of a Kubernetes Affinity",
    ))
}

fn to_json(affinity: Affinity) -> Value {
    serde_json::to_value(affinity).unwrap_or(Value::Null)
}

/// Where the first field of `given` that `read` lost sits below them, as path segments
/// (`.key`, `[i]`) from the innermost out; spelt out only for a field that was lost.
fn first_unknown<N: Tree>(given: &N, read: &Value) -> Option<Vec<String>> {
    match (given.node(), read) {
        (Node::Object, Value::Object(read)) => given.entries().find_map(|(key, value)| {
            let mut below = match read.get(key) {
                None if !value.is_null() => Vec::new(),
                None => return None,
                Some(kept) => first_unknown(value, kept)?,
            };
            below.push(format!(".{key}"));
            Some(below)
        }),
        (Node::List(given), Value::Array(read)) => {
            given.iter().zip(read).enumerate().find_map(|(i, (g, r))| {
                let mut below = first_unknown(g, r)?;
                below.push(format!("[{i}]"));
                Some(below)
            })
        }
        _ => None,
    }
}

/// Both counts set, or a percentage that is not one.
fn budget_problems<N: Tree>(budget: &N, path: &str, wrong: &[FieldError]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if budget.get("maxUnavailable").is_some() && budget.get("minAvailable").is_some() {
        errors.push(FieldError::new(
            path,
            "set `maxUnavailable` or `minAvailable`, not both",
        ));
    }
    for key in ["maxUnavailable", "minAvailable"] {
        let at = format!("{path}.{key}");
        let Some(value) = budget.get(key).filter(|_| unrefused(wrong, &at)) else {
            continue;
        };
        let valid = match value.as_str() {
            Some(text) => text
                .strip_suffix('%')
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| n <= 100),
            None => value.as_i64().is_some_and(|n| n >= 0),
        };
        if !valid {
            errors.push(FieldError::new(
                at,
                "must be a count of pods (0 or more) or a percentage like 25%",
            ));
        }
    }
    errors
}

/// The preStop sleep must end before the grace period does.
fn shutdown_problem<N: Tree>(shutdown: &N, path: &str) -> Option<FieldError> {
    let grace = shutdown.get("gracePeriodSeconds").and_then(Tree::as_i64)?;
    let sleep = shutdown.get("preStopSleepSeconds").and_then(Tree::as_i64)?;
    (sleep >= grace).then(|| {
        FieldError::new(
            format!("{path}.preStopSleepSeconds"),
            format!("must be shorter than gracePeriodSeconds ({sleep} >= {grace}): the pod would be killed while sleeping"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lost_affinity_field_is_named_where_it_sits() {
        let term = |extra: Value| {
            json!({"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                extra,
            ]}})
        };
        let cases = [
            (json!({"nodeAfinity": {}}), Some("spec.scheduling.affinity.nodeAfinity")),
            (
                json!({"nodeAffinity": term(json!({"matchFeilds": []}))}),
                Some("spec.scheduling.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1].matchFeilds"),
            ),
            (json!({"nodeAffinity": term(json!({"matchFields": []}))}), None),
            (json!({"nodeAffinity": null}), None),
        ];
        for (affinity, want) in cases {
            let got = affinity_problem(&affinity, "spec.scheduling.affinity");
            assert_eq!(got.as_ref().map(|e| e.path.as_str()), want, "{affinity}");
        }
        let wrong_shape =
            affinity_problem(&json!({"nodeAffinity": []}), "spec.scheduling.affinity");
        assert!(
            wrong_shape.is_some_and(|e| e.path == "spec.scheduling.affinity"
                && e.message.starts_with("must be a Kubernetes Affinity ("))
        );
    }

    /// The server reads protobuf values; a broken affinity is still described in serde_json's
    /// words, the ones users have always read: `null` (not serde's "unit value") and its floats.
    #[test]
    fn a_broken_affinity_reads_in_serde_json_words_from_a_request() {
        let terms = |term: Value| {
            json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms": [term]}}})
        };
        let weighted = |weight: Value| {
            json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution":
                [{"weight": weight, "preference": {}}]}})
        };
        for affinity in [
            Value::Null,
            terms(Value::Null),
            weighted(json!(1.5)),
            weighted(json!(1e20)),
            weighted(json!("heavy")),
        ] {
            let from_json = Affinity::deserialize(&affinity).unwrap_err();
            let request = crate::document::convert::json_to_value(&affinity);
            let got = affinity_problem(&request, "spec.scheduling.affinity");
            assert_eq!(
                got,
                Some(FieldError::new(
                    "spec.scheduling.affinity",
                    format!("must be a Kubernetes Affinity ({from_json})")
                )),
                "{affinity}"
            );
        }
    }
}
