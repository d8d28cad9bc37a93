//! provider-kubernetes `Object`s: each manifest wrapped with its ProviderConfig and a
//! readiness policy that fits its kind.

use super::{CONSUMER, DEPLOYMENT, SCALED_OBJECT};
use crate::{
    api::input::Settings,
    api::placement::{Placement, Scope},
};
use serde::Serialize;

/// Cluster-scoped Object, composed by Crossplane v1 XRs.
pub const CLUSTER_API_VERSION: &str = "kubernetes.crossplane.io/v1alpha2";
/// Namespaced Object, the only kind a Crossplane v2 namespaced XR may compose.
pub const NAMESPACED_API_VERSION: &str = "kubernetes.m.crossplane.io/v1alpha1";

/// A Deployment has no `Ready` condition. It is ready once its rollout is complete and it
/// serves: `Available`, the latest spec observed, every desired replica on the current
/// template, and one available unless none is wanted. Replicas still starting after a KEDA
/// scale-out leave it ready. Kubernetes omits zero counts, and `replicas` defaults to 1.
pub const DEPLOYMENT_READY_QUERY: &str = "has(object.status) && has(object.status.conditions) && \
     object.status.conditions.exists(c, c.type == 'Available' && c.status == 'True') && \
     has(object.status.observedGeneration) && \
     object.status.observedGeneration >= object.metadata.generation && \
     (has(object.status.updatedReplicas) ? object.status.updatedReplicas : 0) >= \
     (has(object.spec.replicas) ? object.spec.replicas : 1) && \
     ((has(object.spec.replicas) && object.spec.replicas == 0) || \
     (has(object.status.availableReplicas) && object.status.availableReplicas >= 1))";

/// NACK's Consumer reports `Ready` for the spec it last processed: ready once that is the
/// latest.
pub const CONSUMER_READY_QUERY: &str = "has(object.status) && has(object.status.conditions) && \
     object.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True') && \
     has(object.status.observedGeneration) && \
     object.status.observedGeneration == object.metadata.generation";

/// A provider-kubernetes Object around a borrowed manifest, serialised in one pass.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<'a, M> {
    api_version: &'static str,
    kind: &'static str,
    spec: ObjectSpec<'a, M>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectSpec<'a, M> {
    for_provider: ForProvider<'a, M>,
    provider_config_ref: ProviderConfigRef,
    readiness: Readiness,
}

#[derive(Debug, Serialize)]
struct ForProvider<'a, M> {
    manifest: &'a M,
}

#[derive(Debug, Serialize)]
struct ProviderConfigRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Readiness {
    policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cel_query: Option<&'static str>,
}

/// Wraps the manifest composed under `key` into an Object of the flavour the XR's scope needs.
pub fn wrap<'a, M: Serialize>(
    key: &str,
    manifest: &'a M,
    settings: &Settings,
    placement: &Placement,
) -> Object<'a, M> {
    let pc = &settings.provider_config_ref;
    let (api_version, kind) = match placement.scope {
        Scope::Claim => (CLUSTER_API_VERSION, None),
        Scope::Namespaced => (NAMESPACED_API_VERSION, Some(pc.kind.clone())),
    };
    Object {
        api_version,
        kind: "Object",
        spec: ObjectSpec {
            for_provider: ForProvider { manifest },
            provider_config_ref: ProviderConfigRef {
                kind,
                name: pc.name.clone(),
            },
            readiness: readiness(key),
        },
    }
}

/// The readiness policy per kind: the Object's `Ready` condition then means what it says.
fn readiness(key: &str) -> Readiness {
    match key {
        DEPLOYMENT => Readiness {
            policy: "DeriveFromCelQuery",
            cel_query: Some(DEPLOYMENT_READY_QUERY),
        },
        CONSUMER => Readiness {
            policy: "DeriveFromCelQuery",
            cel_query: Some(CONSUMER_READY_QUERY),
        },
        // KEDA's ScaledObject reports Ready itself; Active is False while idle, so AllTrue
        // would never hold.
        SCALED_OBJECT => Readiness {
            policy: "DeriveFromObject",
            cel_query: None,
        },
        // ServiceAccount and Service have no conditions: existing is being ready.
        _ => Readiness {
            policy: "SuccessfulCreate",
            cel_query: None,
        },
    }
}
