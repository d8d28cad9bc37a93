//! The `status` of an EventDrivenService: what the function last observed of the worker. Only
//! its schema is read here; the function writes the fields from the observed resources.

use schemars::JsonSchema;

/// What the function last observed of the worker.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // only its schema is used
pub struct Status {
    /// Replicas of the worker's Deployment, as last observed.
    replicas: Option<i32>,
    /// Replicas of the worker that are ready.
    ready_replicas: Option<i32>,
    /// Replicas of the worker that are available.
    available_replicas: Option<i32>,
    /// Replicas the worker's Deployment wants, as KEDA last set them; below
    /// `availableReplicas` or above it while KEDA is scaling.
    desired_replicas: Option<i32>,
    /// The conditions of the worker's KEDA ScaledObject.
    scaler: Option<Scaler>,
    /// In-cluster address of the worker's HTTP port,
    /// `<name>.<namespace>.svc.cluster.local:<port>`; unset without a Service.
    endpoint: Option<String>,
}

/// The conditions of the worker's KEDA ScaledObject.
#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used
struct Scaler {
    /// KEDA accepted the ScaledObject and can reach the consumer's metrics.
    ready: Option<bool>,
    /// The consumer has pending messages above the activation threshold.
    active: Option<bool>,
    /// Scaling is paused by an annotation on the ScaledObject.
    paused: Option<bool>,
    /// KEDA cannot read the metric and keeps the fallback replica count.
    fallback: Option<bool>,
    /// KEDA's message on the Ready condition, e.g. why the scaler fails.
    message: Option<String>,
}
