//! The rules of the pod fields that their schema cannot state: mount paths that must not
//! overlap, probes with one handler, Kubernetes label and annotation keys, tolerations,
//! affinity, and the disruption budget's counts. Plain functions over the typed spec (the
//! Affinity also over the document, to find the fields Kubernetes' type would drop).

use crate::api::{
    field_error::FieldError,
    input::WorkerDefaults,
    spec::{DisruptionBudget, ProbeSpec, Shutdown, Spec, Toleration},
};
use k8s_openapi::{api::core::v1::Affinity, apimachinery::pkg::util::intstr::IntOrString};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::{collections::BTreeMap, sync::LazyLock};

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

/// Every broken rule of the pod fields of `spec`.
pub fn check(spec: &Spec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut mounts = Vec::new();
    for (i, file) in spec.files.iter().enumerate() {
        let path = format!("spec.files[{i}]");
        if file.secret.is_some() == file.config_map.is_some() {
            errors.push(FieldError::new(
                path.as_str(),
                "set exactly one of `secret` or `configMap`",
            ));
        }
        mounts.push((file.mount_path.clone(), format!("{path}.mountPath")));
        for (j, item) in file.items.iter().enumerate() {
            if item.path.split('/').any(|part| part == "..") {
                errors.push(FieldError::new(
                    format!("{path}.items[{j}].path"),
                    "must not contain a `..` segment",
                ));
            }
        }
    }
    for (i, dir) in spec.tmp_dirs.iter().flatten().enumerate() {
        mounts.push((dir.clone(), format!("spec.tmpDirs[{i}]")));
    }
    errors.extend(overlapping_mounts(&mounts));

    let probes = &spec.probes;
    for (kind, probe) in [
        ("liveness", &probes.liveness),
        ("readiness", &probes.readiness),
        ("startup", &probes.startup),
    ] {
        if let Some(probe) = probe {
            errors.extend(probe_problem(probe, &format!("spec.probes.{kind}")));
        }
    }

    let keyed: [(&str, &BTreeMap<String, String>, bool); 4] = [
        ("podLabels", &spec.pod_labels, true),
        ("podAnnotations", &spec.pod_annotations, false),
        (
            "scheduling.nodeSelector",
            &spec.scheduling.node_selector,
            true,
        ),
        (
            "serviceAccount.annotations",
            &spec.service_account.annotations,
            false,
        ),
    ];
    for (field, map, label) in keyed {
        for (key, value) in map {
            // Spelt out only for a mistake: most entries have none.
            let path = || format!("spec.{field}.{key}");
            if let Some(problem) = key_problem(key) {
                errors.push(FieldError::new(path(), problem));
            }
            if label && !value.is_empty() && !NAME.is_match(value) {
                errors.push(FieldError::new(
                    path(),
                    format!("must be a label value (at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit; got {value:?})"),
                ));
            }
            if field == "podLabels" && OWNED_LABELS.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    path(),
                    "is set by the function on every pod",
                ));
            }
        }
    }

    for (i, toleration) in spec.scheduling.tolerations.iter().enumerate() {
        errors.extend(toleration_problem(
            toleration,
            &format!("spec.scheduling.tolerations[{i}]"),
        ));
    }
    if let Some(budget) = &spec.disruption_budget {
        errors.extend(budget_problems(budget, "spec.disruptionBudget"));
    }
    errors.extend(shutdown_problem(&spec.shutdown, "spec.shutdown"));
    errors
}

/// Every broken rule of the worker defaults in the function Input, at `input.defaults.*`.
pub fn defaults_problems(defaults: &WorkerDefaults) -> Vec<FieldError> {
    let at = "input.defaults";
    let mounts: Vec<_> = defaults
        .tmp_dirs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.clone(), format!("{at}.tmpDirs[{i}]")))
        .collect();
    let mut errors = overlapping_mounts(&mounts);
    if let Some(budget) = &defaults.disruption_budget {
        errors.extend(budget_problems(budget, &format!("{at}.disruptionBudget")));
    }
    errors.extend(shutdown_problem(
        &defaults.shutdown,
        &format!("{at}.shutdown"),
    ));
    errors
}

/// Mount paths that are the same as, or inside, another one. An empty path (the placeholder
/// of one the schema refused) takes no part.
pub fn overlapping_mounts(mounts: &[(String, String)]) -> Vec<FieldError> {
    let trimmed = |dir: &str| dir.trim_end_matches('/').to_string() + "/";
    let mounts: Vec<_> = mounts.iter().filter(|(dir, _)| !dir.is_empty()).collect();
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

fn probe_problem(probe: &ProbeSpec, path: &str) -> Option<FieldError> {
    let handlers = [
        probe.http_get.is_some(),
        probe.tcp_socket.is_some(),
        probe.exec.is_some(),
        probe.grpc.is_some(),
    ];
    let set = handlers.into_iter().filter(|set| *set).count();
    if probe.enabled == Some(false)
        && *probe
            != (ProbeSpec {
                enabled: Some(false),
                ..ProbeSpec::default()
            })
    {
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

fn toleration_problem(toleration: &Toleration, path: &str) -> Option<FieldError> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let exists = toleration.operator.as_deref() == Some("Exists");
    if exists && !text(&toleration.value).is_empty() {
        return Some(FieldError::new(
            format!("{path}.value"),
            "must be empty when `operator` is Exists",
        ));
    }
    (text(&toleration.key).is_empty() && !exists).then(|| {
        FieldError::new(
            format!("{path}.operator"),
            "must be Exists when `key` is empty (a toleration of every taint)",
        )
    })
}

/// A Kubernetes Affinity, as the document gives it, that does not read as one or carries a
/// field Kubernetes' type does not have (and would drop).
pub fn affinity_problem(affinity: &Value, path: &str) -> Option<FieldError> {
    let typed = match Affinity::deserialize(affinity) {
        Ok(typed) => serde_json::to_value(typed).unwrap_or(Value::Null),
        Err(e) => {
            return Some(FieldError::new(
                path,
                format!("must be a Kubernetes Affinity ({e})"),
            ))
        }
    };
    let mut lost = first_unknown(affinity, &typed)?;
    lost.reverse();
    Some(FieldError::new(
        path.to_string() + &lost.concat(),
        "unknown field of a Kubernetes Affinity",
    ))
}

/// Where the first field of `given` that `read` lost sits below them, as path segments
/// (`.key`, `[i]`) from the innermost out; spelt out only for a field that was lost.
fn first_unknown(given: &Value, read: &Value) -> Option<Vec<String>> {
    match (given, read) {
        (Value::Object(given), Value::Object(read)) => given.iter().find_map(|(key, value)| {
            let mut below = match read.get(key) {
                None if !value.is_null() => Vec::new(),
                None => return None,
                Some(kept) => first_unknown(value, kept)?,
            };
            below.push(format!(".{key}"));
            Some(below)
        }),
        (Value::Array(given), Value::Array(read)) => {
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
fn budget_problems(budget: &DisruptionBudget, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if budget.max_unavailable.is_some() && budget.min_available.is_some() {
        errors.push(FieldError::new(
            path,
            "set `maxUnavailable` or `minAvailable`, not both",
        ));
    }
    for (key, value) in [
        ("maxUnavailable", &budget.max_unavailable),
        ("minAvailable", &budget.min_available),
    ] {
        let valid = match value {
            None => true,
            Some(IntOrString::String(text)) => text
                .strip_suffix('%')
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| n <= 100),
            Some(IntOrString::Int(n)) => *n >= 0,
        };
        if !valid {
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                "must be a count of pods (0 or more) or a percentage like 25%",
            ));
        }
    }
    errors
}

/// The preStop sleep must end before the grace period does.
fn shutdown_problem(shutdown: &Shutdown, path: &str) -> Option<FieldError> {
    let grace = shutdown.grace_period_seconds?;
    let sleep = shutdown.pre_stop_sleep_seconds?;
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
}
