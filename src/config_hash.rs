//! `rolloutOnConfigChange`: the Secrets and ConfigMaps a claim's pods read, asked of Crossplane
//! as required resources, and a hash of their data for the pod template, so a changed Secret
//! or ConfigMap rolls the Deployment.
//!
//! Crossplane answers a requirement by calling the function again with the objects under the
//! same keys: an empty answer means the object does not exist. Only the hash leaves this
//! module; no data is logged or emitted.

use crate::{
    api::spec::Spec,
    document::tree::Tree,
    proto::v1::{
        resource_selector::Match, Capability, Requirements, ResourceSelector, Resources,
        RunFunctionRequest,
    },
};
use prost_types::Struct;
use std::collections::{BTreeMap, BTreeSet};

/// One referenced object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Reference {
    kind: &'static str,
    name: String,
}

impl Reference {
    /// The requirement key: `secret/<name>` or `configmap/<name>`.
    fn key(&self) -> String {
        format!("{}/{}", self.kind.to_ascii_lowercase(), self.name)
    }
}

/// What the references came to in one call.
#[derive(Debug, Default, PartialEq)]
pub struct Config {
    /// What to ask Crossplane for; `None` when nothing is referenced or the claim does not
    /// ask for rollouts.
    pub requirements: Option<Requirements>,
    /// The hash of every referenced object's data, once Crossplane has answered with all of
    /// them.
    pub hash: Option<String>,
    /// Referenced objects Crossplane answered as not existing, as `Kind namespace/name`.
    pub missing: Vec<String>,
}

/// Reads what the request holds of the claim's references, and what to ask for.
pub fn config(spec: &Spec, namespace: &str, req: &RunFunctionRequest) -> Config {
    if !spec.rollout_on_config_change {
        return Config::default();
    }
    let references = references(spec);
    if references.is_empty() {
        return Config::default();
    }
    let selectors: BTreeMap<String, ResourceSelector> = references
        .iter()
        .map(|r| {
            let selector = ResourceSelector {
                api_version: "v1".into(),
                kind: r.kind.into(),
                namespace: Some(namespace.to_string()),
                r#match: Some(Match::MatchName(r.name.clone())),
            };
            (r.key(), selector)
        })
        .collect();
    // Crossplane that announces required resources reads `resources`; older Crossplane only
    // knows `extra_resources`.
    let current = req.meta.as_ref().is_some_and(|m| {
        m.capabilities
            .contains(&i32::from(Capability::RequiredResources))
    });
    let requirements = if current {
        Requirements {
            resources: selectors,
            ..Default::default()
        }
    } else {
        Requirements {
            extra_resources: selectors,
            ..Default::default()
        }
    };
    let answers = if current {
        &req.required_resources
    } else {
        &req.extra_resources
    };

    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut missing = Vec::new();
    let mut unanswered = false;
    for reference in &references {
        let found = answers
            .get(&reference.key())
            .map(|r: &Resources| r.items.first().and_then(|i| i.resource.as_ref()));
        match found {
            None => unanswered = true,
            Some(None) => {
                missing.push(format!("{} {namespace}/{}", reference.kind, reference.name))
            }
            Some(Some(object)) => add(&mut digest, reference, object),
        }
    }
    let hash = (!unanswered && missing.is_empty()).then(|| hex(digest.finish().as_ref()));
    Config {
        requirements: Some(requirements),
        hash,
        missing: if unanswered { Vec::new() } else { missing },
    }
}

/// Every Secret and ConfigMap the pods read, once each, in a stable order; pull secrets are
/// the kubelet's, not the worker's, and are left out.
fn references(spec: &Spec) -> BTreeSet<Reference> {
    let secret = |name: &str| Reference {
        kind: "Secret",
        name: name.to_string(),
    };
    let config_map = |name: &str| Reference {
        kind: "ConfigMap",
        name: name.to_string(),
    };
    let slots = [
        &spec.secret1_name,
        &spec.secret2_name,
        &spec.secret3_name,
        &spec.secret4_name,
        &spec.secret5_name,
    ];
    slots
        .into_iter()
        .flatten()
        .map(|n| secret(n))
        .chain(spec.secret_refs.iter().map(|r| secret(&r.name)))
        .chain(spec.config_map_refs.iter().map(|r| config_map(&r.name)))
        .chain(spec.files.iter().filter_map(|f| {
            f.secret
                .as_deref()
                .map(secret)
                .or(f.config_map.as_deref().map(config_map))
        }))
        .collect()
}

/// Feeds one object's identity and data, keys sorted, into the hash.
fn add(digest: &mut ring::digest::Context, reference: &Reference, object: &Struct) {
    digest.update(reference.key().as_bytes());
    digest.update(&[0]);
    for field in ["data", "binaryData"] {
        let entries: BTreeMap<&str, &str> = object
            .fields
            .get(field)
            .map(Tree::entries)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default()))
            .collect();
        digest.update(field.as_bytes());
        for (key, value) in entries {
            digest.update(key.as_bytes());
            digest.update(&[0]);
            digest.update(value.as_bytes());
            digest.update(&[0]);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
