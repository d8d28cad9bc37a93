//! The composed resources of an EventDrivenService, one module per kind: always the
//! ServiceAccount, Deployment and ScaledObject; the Service unless turned off; the
//! PodDisruptionBudget when asked for; the NACK Consumer when the claim declares it.
//!
//! The resource keys are a public contract: Crossplane names composed resources by them, so
//! renaming one deletes and recreates that resource in every cluster.

mod consumer;
mod deployment;
mod disruption_budget;
mod labels;
mod object;
mod pod;
mod probes;
mod scaled_object;
mod service;
mod service_account;

pub use labels::Labels;
pub use scaled_object::{PAUSED, PAUSED_REPLICAS};

use crate::{
    api::input::{Output, Settings},
    api::placement::Placement,
    api::spec::Spec,
    document::convert,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prost_types::{value::Kind, Struct};
use serde::Serialize;

/// Key of the ServiceAccount.
pub const SERVICE_ACCOUNT: &str = "serviceaccount";
/// Key of the Deployment.
pub const DEPLOYMENT: &str = "deployment";
/// Key of the Service.
pub const SERVICE: &str = "service";
/// Key of the KEDA ScaledObject.
pub const SCALED_OBJECT: &str = "scaledobject";
/// Key of the PodDisruptionBudget.
pub const POD_DISRUPTION_BUDGET: &str = "poddisruptionbudget";
/// Key of the NACK Consumer.
pub const CONSUMER: &str = "consumer";
/// Every key this function owns, in the order they are composed.
pub const KEYS: [&str; 6] = [
    SERVICE_ACCOUNT,
    DEPLOYMENT,
    SERVICE,
    SCALED_OBJECT,
    POD_DISRUPTION_BUDGET,
    CONSUMER,
];

/// The pod template annotation holding the hash of the Secrets and ConfigMaps the pods read.
pub const CONFIG_HASH: &str = "platform.bizmatters.io/config-hash";

/// Name of the worker's HTTP port (`spec.port`), which the Service targets.
pub const HTTP_PORT_NAME: &str = "http";

/// Composes the desired resources, keyed by their composition resource name.
///
/// `config_hash` goes on the pod template, so that a changed Secret or ConfigMap rolls the
/// pods; `scaler_hold` pauses KEDA at that many replicas (the scale-up storm guard).
pub fn compose(
    spec: &Spec,
    settings: &Settings,
    placement: &Placement,
    config_hash: Option<&str>,
    scaler_hold: Option<i64>,
) -> Vec<(&'static str, Struct)> {
    let labels = Labels::new(&placement.name, spec.image_tag());
    let at = |key: &'static str, resource: Struct| (key, resource);
    let mut composed = vec![
        at(
            SERVICE_ACCOUNT,
            emit(
                SERVICE_ACCOUNT,
                &service_account::build(spec, placement, &labels),
                settings,
                placement,
            ),
        ),
        at(
            DEPLOYMENT,
            emit(
                DEPLOYMENT,
                &deployment::build(spec, settings, placement, &labels, config_hash),
                settings,
                placement,
            ),
        ),
    ];
    if spec.service.enabled {
        let service = service::build(spec, placement, &labels);
        composed.push(at(SERVICE, emit(SERVICE, &service, settings, placement)));
    }
    let scaler = scaled_object::build(spec, settings, placement, &labels, scaler_hold);
    composed.push(at(
        SCALED_OBJECT,
        emit(SCALED_OBJECT, &scaler, settings, placement),
    ));
    if let Some(budget) = disruption_budget::wanted(spec, settings) {
        let budget = disruption_budget::build(budget, placement, &labels);
        composed.push(at(
            POD_DISRUPTION_BUDGET,
            emit(POD_DISRUPTION_BUDGET, &budget, settings, placement),
        ));
    }
    if let Some(consumer) = consumer::build(spec, settings, placement, &labels) {
        composed.push(at(CONSUMER, emit(CONSUMER, &consumer, settings, placement)));
    }
    composed
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
    let json = serde_json::to_value(resource)
        .unwrap_or_else(|e| unreachable!("composed resources always serialise: {e}"));
    match convert::json_into_value(json).kind {
        Some(Kind::StructValue(resource)) => resource,
        _ => Struct::default(),
    }
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
