//! The four composed resources of an EventDrivenService, one module per kind.
//!
//! The resource keys are a public contract: Crossplane names composed resources by them, so
//! renaming one deletes and recreates that resource in every cluster.

mod deployment;
mod labels;
mod object;
mod scaled_object;
mod service;
mod service_account;

pub use labels::Labels;

use crate::{
    placement::Placement,
    settings::{Output, Settings},
    spec::Spec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::Value;

/// Key of the ServiceAccount.
pub const SERVICE_ACCOUNT: &str = "serviceaccount";
/// Key of the Deployment.
pub const DEPLOYMENT: &str = "deployment";
/// Key of the Service.
pub const SERVICE: &str = "service";
/// Key of the KEDA ScaledObject.
pub const SCALED_OBJECT: &str = "scaledobject";
/// Every key this function owns, in the order they are composed.
pub const KEYS: [&str; 4] = [SERVICE_ACCOUNT, DEPLOYMENT, SERVICE, SCALED_OBJECT];

/// The port every worker serves `/health` and `/ready` on, and the Service exposes.
pub const HTTP_PORT: i32 = 8080;
/// Name of that port.
pub const HTTP_PORT_NAME: &str = "http";

/// Composes the four desired resources, keyed by their composition resource name.
pub fn compose(
    spec: &Spec,
    settings: &Settings,
    placement: &Placement,
) -> Vec<(&'static str, Value)> {
    let labels = Labels::new(&placement.name, spec.image_tag());
    let manifests = [
        (
            SERVICE_ACCOUNT,
            to_json(&service_account::build(placement, &labels)),
        ),
        (
            DEPLOYMENT,
            to_json(&deployment::build(spec, settings, placement, &labels)),
        ),
        (SERVICE, to_json(&service::build(placement, &labels))),
        (
            SCALED_OBJECT,
            to_json(&scaled_object::build(spec, settings, placement, &labels)),
        ),
    ];
    manifests
        .into_iter()
        .map(|(key, manifest)| match settings.output {
            Output::Direct => (key, manifest),
            Output::Objects => (
                key,
                to_json(&object::wrap(key, manifest, settings, placement)),
            ),
        })
        .collect()
}

/// Serialises a typed resource. Our types hold only string-keyed maps, so this cannot fail.
fn to_json<T: Serialize>(resource: &T) -> Value {
    serde_json::to_value(resource)
        .unwrap_or_else(|e| unreachable!("composed resources always serialise: {e}"))
}

/// Name, namespace and labels of one composed resource.
fn metadata(name: &str, placement: &Placement, labels: &Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(placement.namespace.clone()),
        labels: Some(labels.all()),
        ..Default::default()
    }
}
