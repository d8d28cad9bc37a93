//! What the schemas' patterns mean, in words a user can act on, for the messages of
//! `structure.rs`: `spec.image: must be <wording> (got "...")`.
//!
//! The schemas cannot carry this: Kubernetes refuses a keyword it does not know in a CRD's
//! schema (no `x-message` beside a `pattern`), and a `description` is prose for `kubectl
//! explain`, not a phrase that fits after "must be". So the words live here, keyed by the field's
//! path below the document root, with `[]` for list items and `*` for any one field name; the
//! patterns themselves live only in the schemas. A pattern without words here is reported with
//! the pattern itself, and a test keeps every path here pointing at a pattern of a schema.
//!
//! The spec and the Input share `nats.url` and `nats.monitoringEndpoint`: the Input's are the
//! defaults of the spec's, with the same patterns.

/// Words for each pattern, and the paths whose pattern they describe.
pub const PATTERNS: &[(&str, &[&str])] = &[
    (
        "an image reference with a tag or digest, like `ghcr.io/org/app:v1.2.3` or \
         `ghcr.io/org/app@sha256:<64 hex digits>`",
        &["image"],
    ),
    (
        "a DNS-1123 subdomain (lowercase letters, digits, `-` and `.`, starting and ending with \
         a letter or digit)",
        &[
            "secret1Name",
            "secret2Name",
            "secret3Name",
            "secret4Name",
            "secret5Name",
            "secretRefs[].name",
            "imagePullSecrets[].name",
            "configMapRefs[].name",
            "files[].secret",
            "files[].configMap",
            "scheduling.priorityClassName",
        ],
    ),
    (
        "a JetStream name without whitespace, `.`, `*`, `>` or slashes",
        &["nats.stream", "nats.consumer"],
    ),
    (
        "a NATS URL with scheme nats, tls, ws or wss, like nats://nats.nats.svc:4222",
        &["nats.url"],
    ),
    (
        "host:port of the NATS monitoring port without a scheme, like \
         nats-headless.nats.svc.cluster.local:8222",
        &["nats.monitoringEndpoint"],
    ),
    (
        "a Secret key (letters, digits, `-`, `_`, `.`)",
        &["secretRefs[].env[].secretKey"],
    ),
    (
        "a key (letters, digits, `-`, `_`, `.`)",
        &["configMapRefs[].env[].configMapKey", "files[].items[].key"],
    ),
    (
        "a C identifier (letters, digits and `_`, not starting with a digit)",
        &[
            "secretRefs[].env[].envName",
            "configMapRefs[].env[].envName",
        ],
    ),
    (
        "an absolute path, starting with `/`",
        &[
            "files[].mountPath",
            "tmpDirs[]",
            "probes.liveness.httpGet.path",
            "probes.readiness.httpGet.path",
            "probes.startup.httpGet.path",
            "defaults.tmpDirs[]",
        ],
    ),
    (
        "a relative path, not starting with `/`",
        &["files[].items[].path"],
    ),
    ("a duration like 60s, 5m or 1h", &["ttl"]),
    (
        "a Kubernetes quantity like 500m, 2, 512Mi or 4Gi",
        &["sizes.*.*"],
    ),
];

/// The words for the pattern at `path` (below the root, `[]` for list items), if any.
pub fn of_pattern(path: &str) -> Option<&'static str> {
    PATTERNS
        .iter()
        .find(|(_, paths)| paths.iter().any(|p| matches(p, path)))
        .map(|(words, _)| *words)
}

/// Whether `path` is matched by `key`, where a `*` segment stands for any one segment.
fn matches(key: &str, path: &str) -> bool {
    let (mut keys, mut parts) = (key.split('.'), path.split('.'));
    loop {
        match (keys.next(), parts.next()) {
            (None, None) => return true,
            (Some(k), Some(p)) if k == "*" || k == p => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::definition;
    use serde_json::Value;

    /// The schema nodes at `path` (`[]` steps into items, `*` into every property).
    fn nodes<'a>(root: &'a Value, path: &str) -> Vec<&'a Value> {
        let mut found = vec![root];
        for part in path.split('.') {
            let (name, items) = part.strip_suffix("[]").map_or((part, false), |n| (n, true));
            found = found
                .into_iter()
                .flat_map(|node| {
                    let properties = node.get("properties").and_then(Value::as_object);
                    let props = properties.into_iter().flatten();
                    props
                        .filter(|(key, _)| name == "*" || *key == name)
                        .map(|(_, v)| v)
                })
                .filter_map(|node| if items { node.get("items") } else { Some(node) })
                .collect();
        }
        found
    }

    #[test]
    fn every_path_names_a_pattern_of_a_schema() {
        for path in PATTERNS.iter().flat_map(|(_, paths)| *paths) {
            let found: Vec<&Value> = [definition::spec_schema(), definition::input_schema()]
                .into_iter()
                .flat_map(|root| nodes(root, path))
                .collect();
            assert!(
                !found.is_empty() && found.iter().all(|n| n.get("pattern").is_some()),
                "{path} has words but no pattern in the XRD or the Input CRD"
            );
        }
    }

    #[test]
    fn paths_match_segment_by_segment() {
        assert_eq!(of_pattern("nats.url").map(|w| &w[..10]), Some("a NATS URL"));
        assert!(of_pattern("sizes.small.cpuLimit").is_some());
        assert!(of_pattern("sizes.small").is_none());
        assert!(of_pattern("nats").is_none());
    }
}
