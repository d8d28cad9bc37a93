//! The KEDA ScaledObject that scales the Deployment on JetStream consumer lag.

use super::Labels;
use crate::{
    api::input::Settings,
    api::placement::Placement,
    api::spec::{Behavior, Fallback, Spec},
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use std::collections::BTreeMap;

/// A KEDA ScaledObject, with the fields this function sets.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObject {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: ScaledObjectSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScaledObjectSpec {
    scale_target_ref: ScaleTargetRef,
    polling_interval: i32,
    cooldown_period: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_replica_count: Option<i32>,
    min_replica_count: i32,
    max_replica_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<Fallback>,
    #[serde(skip_serializing_if = "Option::is_none")]
    advanced: Option<Advanced>,
    triggers: Vec<Trigger>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Advanced {
    horizontal_pod_autoscaler_config: HorizontalPodAutoscalerConfig,
}

#[derive(Debug, Serialize)]
struct HorizontalPodAutoscalerConfig {
    behavior: Behavior,
}

#[derive(Debug, Serialize)]
struct ScaleTargetRef {
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Trigger {
    #[serde(rename = "type")]
    type_: &'static str,
    /// `Utilization` for the CPU and memory triggers.
    #[serde(skip_serializing_if = "Option::is_none")]
    metric_type: Option<&'static str>,
    /// KEDA reads every trigger setting as a string.
    metadata: BTreeMap<&'static str, String>,
}

impl Trigger {
    /// KEDA's `cpu` or `memory` trigger aiming for `percent` of the pods' request.
    fn utilization(type_: &'static str, percent: i32) -> Self {
        Self {
            type_,
            metric_type: Some("Utilization"),
            metadata: BTreeMap::from([("value", percent.to_string())]),
        }
    }
}

/// Builds the ScaledObject `<name>-scaler` targeting the Deployment; `hold` pauses KEDA at
/// that count (see [`pause`]).
pub fn build(
    spec: &Spec,
    settings: &Settings,
    placement: &Placement,
    labels: &Labels,
    hold: Option<i64>,
) -> ScaledObject {
    let nats = &spec.nats;
    let scaling = &spec.scaling;
    let mut metadata = BTreeMap::from([
        (
            "natsServerMonitoringEndpoint",
            nats.monitoring_endpoint
                .clone()
                .unwrap_or_else(|| settings.nats.monitoring_endpoint.clone()),
        ),
        // The scaler has no default account; leaving it out breaks the lag query.
        (
            "account",
            nats.account
                .clone()
                .unwrap_or_else(|| settings.nats.account.clone()),
        ),
        ("stream", nats.stream.clone()),
        ("consumer", nats.consumer.clone()),
        ("lagThreshold", scaling.lag_threshold.to_string()),
    ]);
    // KEDA queries the account ID when there is one and keeps the account whose ID equals it
    // or whose name equals `account`.
    if let Some(id) = nats
        .account_id
        .as_ref()
        .or(settings.nats.account_id.as_ref())
    {
        metadata.insert("accountID", id.clone());
    }
    if let Some(activation) = scaling.activation_lag_threshold {
        metadata.insert("activationLagThreshold", activation.to_string());
    }
    if let Some(https) = nats.use_https {
        metadata.insert("useHttps", https.to_string());
    }
    let mut object_metadata = super::metadata(&placement.scaler_name(), placement, labels);
    object_metadata.annotations = pause(spec, hold);
    ScaledObject {
        api_version: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: object_metadata,
        spec: ScaledObjectSpec {
            scale_target_ref: ScaleTargetRef {
                name: placement.name.clone(),
            },
            polling_interval: scaling.polling_interval,
            cooldown_period: scaling.cooldown_period,
            idle_replica_count: scaling.idle_replicas,
            min_replica_count: scaling.min_replicas,
            max_replica_count: scaling.max_replicas,
            fallback: scaling.fallback.clone(),
            advanced: scaling.behavior.clone().map(|behavior| Advanced {
                horizontal_pod_autoscaler_config: HorizontalPodAutoscalerConfig { behavior },
            }),
            triggers: [Some(Trigger {
                type_: "nats-jetstream",
                metric_type: None,
                metadata,
            })]
            .into_iter()
            .chain([
                scaling
                    .cpu_utilization
                    .map(|p| Trigger::utilization("cpu", p)),
                scaling
                    .memory_utilization
                    .map(|p| Trigger::utilization("memory", p)),
            ])
            .flatten()
            .collect(),
        },
    }
}

/// KEDA's pause annotations, set together: `paused` stops scaling where the worker is, and
/// with `paused-replicas` KEDA first scales to that count. KEDA pauses on `paused-replicas`
/// alone too, so it is only ever set beside `paused: "true"`, and neither when not paused.
/// The claim's own pause wins; otherwise `hold` (the scale-up storm guard) pauses KEDA at
/// that count.
fn pause(spec: &Spec, hold: Option<i64>) -> Option<BTreeMap<String, String>> {
    let scaling = &spec.scaling;
    let replicas = match (scaling.paused, hold) {
        (true, _) => scaling.paused_replicas.map(i64::from),
        (false, Some(count)) => Some(count),
        (false, None) => return None,
    };
    let mut annotations = BTreeMap::from([(PAUSED.to_string(), "true".to_string())]);
    if let Some(replicas) = replicas {
        annotations.insert(PAUSED_REPLICAS.to_string(), replicas.to_string());
    }
    Some(annotations)
}

/// KEDA stops scaling while this annotation is `"true"`.
pub const PAUSED: &str = "autoscaling.keda.sh/paused";
/// KEDA scales to this count and stops.
pub const PAUSED_REPLICAS: &str = "autoscaling.keda.sh/paused-replicas";
