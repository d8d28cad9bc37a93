//! The typed `spec` of an EventDrivenService, as a user writes it in a claim or XR.
//!
//! Fields whose defaults a platform team may change in the function Input (`nats.url`,
//! `nats.monitoringEndpoint`, `nats.account`) stay `Option` here and are resolved against the
//! Input when composing; every other default lives in this file.

use crate::{
    api::field_error::FieldError,
    document::tree::{self, Tree},
};
use serde::{Deserialize, Serialize};

/// Built-in NATS client URL when neither the spec nor the Input names one.
pub const DEFAULT_NATS_URL: &str = "nats://nats.nats.svc:4222";
/// Built-in NATS monitoring endpoint: the headless service, which the clustered scaler needs.
pub const DEFAULT_MONITORING_ENDPOINT: &str = "nats-headless.nats.svc.cluster.local:8222";
/// Built-in NATS account queried by the scaler: the global account, which holds every stream of
/// a server without configured accounts (JetStream cannot run in the system account `$SYS`).
pub const DEFAULT_NATS_ACCOUNT: &str = "$G";

/// The spec of one EventDrivenService.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Container image, `repo:tag` or `repo@sha256:digest`.
    pub image: String,
    /// Resource preset.
    #[serde(default)]
    pub size: Size,
    /// Where the worker reads from.
    pub nats: Nats,
    /// Legacy secret slots, each mounted whole with `envFrom`, in slot order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret1_name: Option<String>,
    /// Second legacy secret slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret2_name: Option<String>,
    /// Third legacy secret slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret3_name: Option<String>,
    /// Fourth legacy secret slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret4_name: Option<String>,
    /// Fifth legacy secret slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret5_name: Option<String>,
    /// Secrets without a fixed limit, whole or key by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_refs: Vec<SecretRef>,
    /// Pull secrets for private registries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<NameRef>,
    /// Optional init container running the same image with the same environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container: Option<InitContainer>,
    /// Autoscaling on consumer lag.
    #[serde(default)]
    pub scaling: Scaling,
}

/// Resource presets; the table behind them may be overridden in the function Input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// 250m/1000m CPU, 512Mi/2Gi memory.
    Small,
    /// 500m/2000m CPU, 1Gi/4Gi memory.
    #[default]
    Medium,
    /// 1000m/4000m CPU, 2Gi/8Gi memory.
    Large,
}

/// NATS JetStream settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Nats {
    /// Client URL handed to the worker as `NATS_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// JetStream stream name.
    pub stream: String,
    /// Durable consumer name.
    pub consumer: String,
    /// `host:port` of the NATS monitoring port the scaler polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_endpoint: Option<String>,
    /// NATS account of the stream, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// NATS account of the stream, by ID (a public key in operator/JWT deployments).
    #[serde(default, rename = "accountID", skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Whether the scaler polls the monitoring endpoint over HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_https: Option<bool>,
}

/// A secret mounted whole (`envFrom: true`) or key by key (`env`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// Secret name in the workload's namespace.
    pub name: String,
    /// Mount every key as an environment variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<bool>,
    /// Mount chosen keys under chosen variable names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvFromKey>,
}

/// One secret key exposed as one environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvFromKey {
    /// Key inside the secret.
    pub secret_key: String,
    /// Environment variable name in the containers.
    pub env_name: String,
}

/// A reference by name, as in `imagePullSecrets`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NameRef {
    /// Object name.
    pub name: String,
}

/// The optional init container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InitContainer {
    /// Entrypoint override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// KEDA scaling settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scaling {
    /// Fewest replicas.
    #[serde(default = "Scaling::default_min_replicas")]
    pub min_replicas: i32,
    /// Most replicas.
    #[serde(default = "Scaling::default_max_replicas")]
    pub max_replicas: i32,
    /// Pending messages per replica that KEDA aims for.
    #[serde(default = "Scaling::default_lag_threshold")]
    pub lag_threshold: i64,
    /// Lag above which KEDA activates from zero replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_lag_threshold: Option<i64>,
    /// Seconds between KEDA polls.
    #[serde(default = "Scaling::default_polling_interval")]
    pub polling_interval: i32,
    /// Seconds KEDA waits after the last activity before scaling to the minimum.
    #[serde(default = "Scaling::default_cooldown_period")]
    pub cooldown_period: i32,
}

impl Scaling {
    /// Default of `scaling.minReplicas`.
    pub const fn default_min_replicas() -> i32 {
        1
    }
    /// Default of `scaling.maxReplicas`.
    pub const fn default_max_replicas() -> i32 {
        10
    }
    /// Default of `scaling.lagThreshold`.
    pub const fn default_lag_threshold() -> i64 {
        5
    }
    /// Default of `scaling.pollingInterval`.
    pub const fn default_polling_interval() -> i32 {
        5
    }
    /// Default of `scaling.cooldownPeriod`.
    pub const fn default_cooldown_period() -> i32 {
        300
    }
}

impl Default for Scaling {
    fn default() -> Self {
        Self {
            min_replicas: Self::default_min_replicas(),
            max_replicas: Self::default_max_replicas(),
            lag_threshold: Self::default_lag_threshold(),
            activation_lag_threshold: None,
            polling_interval: Self::default_polling_interval(),
            cooldown_period: Self::default_cooldown_period(),
        }
    }
}

impl Spec {
    /// Parses and validates a spec, returning every offending field at once.
    pub fn parse<N: Tree>(spec: &N) -> Result<Self, Vec<FieldError>> {
        crate::api::rules::spec(spec)?;
        tree::deserialize(spec, crate::api::rules::CROSSPLANE_SPEC_FIELDS)
            // Validation accepts only what deserialises; this is a guard, not a user path.
            .map_err(|e| vec![FieldError::new("spec", e.to_string())])
    }

    /// Secrets mounted whole, in order: the five slots, then `secretRefs` with `envFrom: true`.
    pub fn env_from_secrets(&self) -> impl Iterator<Item = &str> {
        let slots = [
            &self.secret1_name,
            &self.secret2_name,
            &self.secret3_name,
            &self.secret4_name,
            &self.secret5_name,
        ];
        let refs = self
            .secret_refs
            .iter()
            .filter(|r| r.env_from == Some(true))
            .map(|r| r.name.as_str());
        slots.into_iter().filter_map(|s| s.as_deref()).chain(refs)
    }

    /// The image tag, when the image has one.
    pub fn image_tag(&self) -> Option<&str> {
        let without_digest = self.image.split('@').next().unwrap_or_default();
        let last = without_digest.rsplit('/').next().unwrap_or_default();
        last.split_once(':').map(|(_, tag)| tag)
    }
}
