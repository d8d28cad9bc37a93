//! The typed `spec` of an EventDrivenService, as a user writes it in a claim or XR.
//!
//! The XRD (apis/definition.yaml) is the spec's only definition: its schema checks the
//! structure, fills in the defaults and names every field; these types only give the checked
//! spec a shape to compose from (`api::parse_spec` checks and reads one). Fields whose
//! defaults a platform team may change in the function Input (`nats.url`,
//! `nats.monitoringEndpoint`, `nats.account`) stay `Option` here and are resolved against the
//! Input when composing.

use crate::api::go_duration;
use k8s_openapi::{
    api::autoscaling::v2::HorizontalPodAutoscalerBehavior,
    api::core::v1::{Affinity, Toleration},
    apimachinery::pkg::util::intstr::IntOrString,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The fields of the five legacy secret slots (`secret1Name` to `secret5Name`), in slot order.
pub const SECRET_SLOTS: [&str; 5] = [
    "secret1Name",
    "secret2Name",
    "secret3Name",
    "secret4Name",
    "secret5Name",
];

/// The spec of one EventDrivenService.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Container image, `repo:tag` or `repo@sha256:digest`.
    pub image: String,
    /// Resource preset.
    pub size: Size,
    /// Where the worker reads from.
    pub nats: Nats,
    /// Legacy secret slots, each mounted whole with `envFrom`, in slot order.
    pub secret1_name: Option<String>,
    /// Second legacy secret slot.
    pub secret2_name: Option<String>,
    /// Third legacy secret slot.
    pub secret3_name: Option<String>,
    /// Fourth legacy secret slot.
    pub secret4_name: Option<String>,
    /// Fifth legacy secret slot.
    pub secret5_name: Option<String>,
    /// Secrets without a fixed limit, whole or key by key.
    #[serde(default)]
    pub secret_refs: Vec<SecretRef>,
    /// Pull secrets for private registries.
    #[serde(default)]
    pub image_pull_secrets: Vec<NameRef>,
    /// Optional init container running the same image with the same environment.
    pub init_container: Option<InitContainer>,
    /// Entrypoint of the worker container.
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments of the worker container.
    #[serde(default)]
    pub args: Vec<String>,
    /// Plain environment variables, by name.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// ConfigMaps, whole or key by key.
    #[serde(default)]
    pub config_map_refs: Vec<ConfigMapRef>,
    /// Secrets or ConfigMaps mounted read-only as files.
    #[serde(default)]
    pub files: Vec<File>,
    /// Writable empty directories; `None` leaves the platform's default.
    pub tmp_dirs: Option<Vec<String>>,
    /// Read-only root filesystem; `None` leaves the platform's default.
    pub read_only_root_filesystem: Option<bool>,
    /// The worker's HTTP port.
    pub port: i32,
    /// The Service.
    pub service: ServiceSpec,
    /// The worker container's probes.
    #[serde(default)]
    pub probes: Probes,
    /// Annotations of the pods.
    #[serde(default)]
    pub pod_annotations: BTreeMap<String, String>,
    /// Extra labels of the pods.
    #[serde(default)]
    pub pod_labels: BTreeMap<String, String>,
    /// The ServiceAccount's settings.
    #[serde(default)]
    pub service_account: ServiceAccountSpec,
    /// Where the pods may run.
    #[serde(default)]
    pub scheduling: Scheduling,
    /// The PodDisruptionBudget; `None` leaves the platform's default.
    pub disruption_budget: Option<DisruptionBudget>,
    /// How pods stop; fields left `None` take the platform's default.
    #[serde(default)]
    pub shutdown: Shutdown,
    /// Autoscaling on consumer lag.
    pub scaling: Scaling,
    /// Restart the pods when a Secret or ConfigMap they read changes.
    pub rollout_on_config_change: bool,
}

/// A ConfigMap mounted whole (`envFrom: true`) or key by key (`env`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMapRef {
    /// ConfigMap name in the workload's namespace.
    pub name: String,
    /// Mount every key as an environment variable.
    pub env_from: Option<bool>,
    /// Mount chosen keys under chosen variable names.
    #[serde(default)]
    pub env: Vec<ConfigMapKey>,
}

/// One ConfigMap key exposed as one environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMapKey {
    /// Key inside the ConfigMap.
    pub config_map_key: String,
    /// Environment variable name in the containers.
    pub env_name: String,
}

/// A Secret or ConfigMap mounted read-only as a directory of files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct File {
    /// Absolute directory of the files.
    pub mount_path: String,
    /// The Secret to mount.
    pub secret: Option<String>,
    /// The ConfigMap to mount.
    pub config_map: Option<String>,
    /// Only these keys, at these paths.
    #[serde(default)]
    pub items: Vec<KeyPath>,
}

/// One key of a mounted Secret or ConfigMap at a relative path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPath {
    /// Key inside the object.
    pub key: String,
    /// Relative file path.
    pub path: String,
}

/// Whether a Service is composed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// `false`: no Service, no container port, no endpoint.
    pub enabled: bool,
}

/// The three probes of the worker container; `None` keeps each one's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probes {
    /// Liveness; default HTTP GET `/health`.
    pub liveness: Option<ProbeSpec>,
    /// Readiness; default HTTP GET `/ready`.
    pub readiness: Option<ProbeSpec>,
    /// Startup; none by default.
    pub startup: Option<ProbeSpec>,
}

/// One probe as a claim states it: a handler and Kubernetes' timing fields, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeSpec {
    /// `false`: no such probe.
    pub enabled: Option<bool>,
    /// HTTP GET.
    pub http_get: Option<HttpGet>,
    /// TCP connection.
    pub tcp_socket: Option<PortOnly>,
    /// A command.
    pub exec: Option<Exec>,
    /// gRPC health check.
    pub grpc: Option<Grpc>,
    /// `initialDelaySeconds`.
    pub initial_delay_seconds: Option<i32>,
    /// `periodSeconds`.
    pub period_seconds: Option<i32>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<i32>,
    /// `successThreshold`.
    pub success_threshold: Option<i32>,
    /// `failureThreshold`.
    pub failure_threshold: Option<i32>,
}

/// An HTTP GET probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGet {
    /// Path; the default probe's when unset.
    pub path: Option<String>,
    /// Port; the worker's `port` when unset.
    pub port: Option<i32>,
}

/// A probe that needs only a port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortOnly {
    /// Port; the worker's `port` when unset.
    pub port: Option<i32>,
}

/// A command probe.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    /// The command.
    pub command: Vec<String>,
}

/// A gRPC health check probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grpc {
    /// Port; the worker's `port` when unset.
    pub port: Option<i32>,
    /// Service name in the request.
    pub service: Option<String>,
}

/// The ServiceAccount's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountSpec {
    /// Annotations, e.g. for workload identity.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// Where the pods may run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scheduling {
    /// Node labels a node must carry.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerated taints.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Kubernetes Affinity (the rules refuse a field Kubernetes' type does not know).
    pub affinity: Option<Affinity>,
    /// PriorityClass.
    pub priority_class_name: Option<String>,
    /// Spread; `None` leaves the platform's default.
    pub spread: Option<Spread>,
}

/// How the pods spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// Across zones.
    Zone,
    /// Across nodes.
    Host,
    /// Not at all.
    None,
}

/// A PodDisruptionBudget as a claim or the Input states it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisruptionBudget {
    /// `false`: none.
    pub enabled: Option<bool>,
    /// Most pods down at once.
    pub max_unavailable: Option<IntOrString>,
    /// Fewest pods kept up.
    pub min_available: Option<IntOrString>,
}

/// How pods stop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Shutdown {
    /// The pod's terminationGracePeriodSeconds.
    pub grace_period_seconds: Option<i64>,
    /// The container's preStop sleep.
    pub pre_stop_sleep_seconds: Option<i64>,
}

/// Resource presets; the table behind them may be overridden in the function Input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// 250m/1000m CPU, 512Mi/2Gi memory.
    Small,
    /// 500m/2000m CPU, 1Gi/4Gi memory.
    Medium,
    /// 1000m/4000m CPU, 2Gi/8Gi memory.
    Large,
}

/// NATS JetStream settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Nats {
    /// Client URL handed to the worker as `NATS_URL`.
    pub url: Option<String>,
    /// JetStream stream name.
    pub stream: String,
    /// Durable consumer name.
    pub consumer: String,
    /// `host:port` of the NATS monitoring port the scaler polls.
    pub monitoring_endpoint: Option<String>,
    /// NATS account of the stream, by name.
    pub account: Option<String>,
    /// NATS account of the stream, by ID (a public key in operator/JWT deployments).
    #[serde(rename = "accountID")]
    pub account_id: Option<String>,
    /// Whether the scaler polls the monitoring endpoint over HTTPS.
    pub use_https: Option<bool>,
    /// The durable consumer, when the claim declares it.
    pub durable_consumer: Option<DurableConsumer>,
}

/// A durable consumer composed as a NACK Consumer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DurableConsumer {
    /// Go duration NATS waits for an acknowledgement.
    pub ack_wait: String,
    /// Deliveries before NATS gives up; -1 or `None` without limit.
    pub max_deliver: Option<i64>,
    /// Unacknowledged messages before NATS stops delivering; `None` leaves NATS' default.
    pub max_ack_pending: Option<i64>,
    /// Subjects the consumer takes, all of the stream's when empty.
    #[serde(default)]
    pub filter_subjects: Vec<String>,
    /// Go durations between redeliveries.
    #[serde(default)]
    pub backoff: Vec<String>,
    /// The NACK Account holding the connection.
    pub account_ref: Option<NameRef>,
}

/// NATS' own `max_ack_pending` when a consumer sets none.
pub const NATS_DEFAULT_MAX_ACK_PENDING: i64 = 1000;

impl DurableConsumer {
    /// The wait NATS applies before the first redelivery: `backoff[0]` replaces `ackWait`.
    pub fn effective_ack_wait(&self) -> Option<std::time::Duration> {
        let wait = self.backoff.first().unwrap_or(&self.ack_wait);
        go_duration::parse(wait).ok()
    }

    /// Unacknowledged messages NATS allows, its default when unset.
    pub fn effective_max_ack_pending(&self) -> i64 {
        self.max_ack_pending.unwrap_or(NATS_DEFAULT_MAX_ACK_PENDING)
    }
}

/// A secret mounted whole (`envFrom: true`) or key by key (`env`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// Secret name in the workload's namespace.
    pub name: String,
    /// Mount every key as an environment variable.
    pub env_from: Option<bool>,
    /// Mount chosen keys under chosen variable names.
    #[serde(default)]
    pub env: Vec<EnvFromKey>,
}

/// One secret key exposed as one environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvFromKey {
    /// Key inside the secret.
    pub secret_key: String,
    /// Environment variable name in the containers.
    pub env_name: String,
}

/// A reference by name, as in `imagePullSecrets`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameRef {
    /// Object name.
    pub name: String,
}

/// The optional init container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitContainer {
    /// Entrypoint override.
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

/// KEDA scaling settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scaling {
    /// Fewest replicas.
    pub min_replicas: i32,
    /// Most replicas.
    pub max_replicas: i32,
    /// Pending messages per replica that KEDA aims for.
    pub lag_threshold: i64,
    /// Lag above which KEDA activates from zero replicas.
    pub activation_lag_threshold: Option<i64>,
    /// Seconds between KEDA polls.
    pub polling_interval: i32,
    /// Seconds KEDA waits after the last activity before scaling to the minimum.
    pub cooldown_period: i32,
    /// Replicas while KEDA cannot read the lag.
    pub fallback: Option<Fallback>,
    /// The HPA's scaling behavior, as Kubernetes states it.
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
    /// KEDA stops scaling.
    pub paused: bool,
    /// Replicas KEDA holds while paused.
    pub paused_replicas: Option<i32>,
}

/// KEDA's fallback.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fallback {
    /// Failed reads tolerated.
    pub failure_threshold: i32,
    /// Replicas while falling back.
    pub replicas: i32,
    /// How `replicas` applies; KEDA's default when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<String>,
}

impl Spec {
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
