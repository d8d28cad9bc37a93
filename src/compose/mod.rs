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
    api::input::{Output, Settings},
    api::placement::Placement,
    api::spec::Spec,
    document::convert,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prost_types::Struct;
use serde::Serialize;

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
///
/// Each typed resource is serialised once, straight into the `Struct` the response carries.
pub fn compose(
    spec: &Spec,
    settings: &Settings,
    placement: &Placement,
) -> Vec<(&'static str, Struct)> {
    let labels = Labels::new(&placement.name, spec.image_tag());
    vec![
        (
            SERVICE_ACCOUNT,
            emit(
                SERVICE_ACCOUNT,
                &service_account::build(placement, &labels),
                settings,
                placement,
            ),
        ),
        (
            DEPLOYMENT,
            emit(
                DEPLOYMENT,
                &deployment::build(spec, settings, placement, &labels),
                settings,
                placement,
            ),
        ),
        (
            SERVICE,
            emit(
                SERVICE,
                &service::build(placement, &labels),
                settings,
                placement,
            ),
        ),
        (
            SCALED_OBJECT,
            emit(
                SCALED_OBJECT,
                &scaled_object::build(spec, settings, placement, &labels),
                settings,
                placement,
            ),
        ),
    ]
}

/// The resource composed under `key` as the output flavour wants it: itself, or wrapped in
/// a provider-kubernetes Object.
fn emit<T: Serialize>(
    key: &str,
    manifest: &T,
    settings: &Settings,
    placement: &Placement,
) -> Struct {
    match settings.output {
        Output::Direct => to_struct(manifest),
        Output::Objects => to_struct(&object::wrap(key, manifest, settings, placement)),
    }
}

/// Serialises a typed resource. Our types hold only string-keyed maps, so this cannot fail.
fn to_struct<T: Serialize>(resource: &T) -> Struct {
    convert::to_struct(resource)
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
