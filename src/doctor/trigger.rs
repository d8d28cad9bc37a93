//! What KEDA and Kubernetes will be told, read back from the resources the function composes:
//! the nats-jetstream trigger's metadata, the replica bounds and the pods' grace period.

use crate::compose::{DEPLOYMENT, PAUSED, SCALED_OBJECT};
use serde_json::Value;

/// The ScaledObject's trigger and bounds, and the Deployment's grace period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `natsServerMonitoringEndpoint`: host:port, no scheme.
    pub endpoint: String,
    /// `account`, if set.
    pub account: String,
    /// The ID KEDA queries and matches: `accountID`, else `account`.
    pub account_id: String,
    /// `stream`.
    pub stream: String,
    /// `consumer`.
    pub consumer: String,
    /// `lagThreshold` (KEDA's default 10).
    pub lag_threshold: i64,
    /// `activationLagThreshold` (KEDA's default 0).
    pub activation_lag_threshold: i64,
    /// `useHttps`.
    pub use_https: bool,
    /// `minReplicaCount`.
    pub min_replicas: i64,
    /// `maxReplicaCount`.
    pub max_replicas: i64,
    /// KEDA's pause annotation is set.
    pub paused: bool,
    /// The pods' `terminationGracePeriodSeconds` (Kubernetes' 30 when unset).
    pub grace_period_seconds: i64,
}

impl Target {
    /// The URL KEDA's scaler asks first.
    pub fn jsz_url(&self, endpoint: &str) -> String {
        format!(
            "{}://{endpoint}/jsz?acc={}&consumers=true&config=true",
            self.scheme(),
            self.account_id
        )
    }

    /// `https` with `useHttps`, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.use_https {
            "https"
        } else {
            "http"
        }
    }
}

/// The target of a render: its resources by composition resource name.
pub fn read(resources: &[(String, Value)]) -> Result<Target, String> {
    let manifest = |key: &str| {
        resources
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r.pointer("/spec/forProvider/manifest").unwrap_or(r))
    };
    let scaler = manifest(SCALED_OBJECT).ok_or("the render has no ScaledObject")?;
    let trigger = scaler
        .pointer("/spec/triggers")
        .and_then(Value::as_array)
        .and_then(|t| {
            t.iter()
                .find(|t| t.get("type").and_then(Value::as_str) == Some("nats-jetstream"))
        })
        .and_then(|t| t.get("metadata"))
        .ok_or("the ScaledObject has no nats-jetstream trigger")?;
    let text = |key: &str| {
        trigger
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let number = |key: &str, default: i64| -> Result<i64, String> {
        match trigger.get(key).and_then(Value::as_str) {
            None => Ok(default),
            Some(n) => n
                .parse()
                .map_err(|_| format!("trigger metadata {key} {n:?} is not a whole number")),
        }
    };
    let account = text("account");
    let account_id = Some(text("accountID"))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| account.clone());
    let count = |pointer: &str| scaler.pointer(pointer).and_then(Value::as_i64);
    let deployment = manifest(DEPLOYMENT).ok_or("the render has no Deployment")?;
    Ok(Target {
        endpoint: text("natsServerMonitoringEndpoint"),
        account,
        account_id,
        stream: text("stream"),
        consumer: text("consumer"),
        lag_threshold: number("lagThreshold", 10)?,
        activation_lag_threshold: number("activationLagThreshold", 0)?,
        use_https: text("useHttps") == "true",
        min_replicas: count("/spec/minReplicaCount").unwrap_or(0),
        max_replicas: count("/spec/maxReplicaCount").unwrap_or(100),
        paused: scaler
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(PAUSED))
            .and_then(Value::as_str)
            == Some("true"),
        grace_period_seconds: deployment
            .pointer("/spec/template/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30),
    })
}
