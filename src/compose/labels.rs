//! The labels every composed resource carries, and the subset that selects the pods.

use std::collections::BTreeMap;

/// `app.kubernetes.io/name`: the workload's name; also the pod selector.
pub const NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/component`.
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// `app.kubernetes.io/managed-by`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `app.kubernetes.io/version`.
pub const VERSION: &str = "app.kubernetes.io/version";

/// Longest label value Kubernetes accepts.
const MAX_LABEL_VALUE: usize = 63;

/// The labels of one EventDrivenService.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    all: BTreeMap<String, String>,
    selector: BTreeMap<String, String>,
}

impl Labels {
    /// Labels for the workload `name`, with the image tag as its version when there is one.
    pub fn new(name: &str, tag: Option<&str>) -> Self {
        let selector = BTreeMap::from([(NAME.to_string(), name.to_string())]);
        let mut all = selector.clone();
        all.insert(COMPONENT.into(), "event-driven-worker".into());
        all.insert(MANAGED_BY.into(), "crossplane".into());
        if let Some(version) = tag.and_then(version_label) {
            all.insert(VERSION.into(), version);
        }
        Self { all, selector }
    }

    /// Every label.
    pub fn all(&self) -> BTreeMap<String, String> {
        self.all.clone()
    }

    /// The labels that select the pods; never the version, because a Deployment's selector is
    /// immutable and would block every image upgrade.
    pub fn selector(&self) -> BTreeMap<String, String> {
        self.selector.clone()
    }
}

/// An image tag as a valid label value: at most 63 characters, starting and ending with a
/// letter or digit; `None` when nothing valid is left.
fn version_label(tag: &str) -> Option<String> {
    let cut: String = tag.chars().take(MAX_LABEL_VALUE).collect();
    let trimmed = cut.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_labels_may_not_set_any_label_of_ours() {
        let ours = Labels::new("worker", Some("v1")).all();
        let owned = crate::api::OWNED_LABELS;
        assert!(ours.keys().all(|k| owned.contains(&k.as_str())), "{ours:?}");
        assert_eq!(ours.len(), owned.len());
    }

    #[test]
    fn versions_are_always_valid_label_values() {
        let long = format!("v{}", "1".repeat(80));
        let cases = [
            ("v1.0.0", Some("v1.0.0")),
            ("latest", Some("latest")),
            ("_build.7-", Some("build.7")),
            ("__", None),
            (long.as_str(), Some(&long[..63])),
        ];
        for (tag, want) in cases {
            assert_eq!(version_label(tag).as_deref(), want, "{tag}");
        }
    }
}
