//! The typed `spec` of an EventDrivenService, as a user writes it in a claim or XR.
//!
//! These types are the spec's only definition: their doc comments, serde defaults and
//! schemars attributes (bounds, patterns, CEL rules) generate the XRDs and the JSON Schema
//! (`api::definition`), and serde reads a checked spec into them (`api::parse_spec`). Fields
//! whose defaults a platform team may change in the function Input (`nats.url`,
//! `nats.monitoringEndpoint`, `nats.account`) stay `Option` here and are resolved against the
//! Input when composing.

use crate::api::go_duration;
use k8s_openapi::{api::core::v1::Affinity, apimachinery::pkg::util::intstr::IntOrString};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The worker to run and how it consumes and scales.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Container image with a tag, a digest or both, e.g. `ghcr.io/org/worker:v1.2.3` or
    /// `ghcr.io/org/worker@sha256:<64 hex digits>`. A bare repository is refused: it would silently
    /// mean `:latest`.
    #[schemars(regex(
        pattern = r"^(?:[a-zA-Z0-9][a-zA-Z0-9.-]*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64})$"
    ))]
    pub image: String,
    /// Resource preset of each container (requests/limits): `small` 250m/1000m CPU, 512Mi/2Gi
    /// memory; `medium` 500m/2000m CPU, 1Gi/4Gi memory; `large` 1000m/4000m CPU, 2Gi/8Gi memory.
    /// The platform may redefine the presets in the function Input.
    #[serde(default)]
    pub size: Size,
    /// The JetStream stream and durable consumer the worker reads from.
    pub nats: Nats,
    /// A Secret in the EventDrivenService's namespace whose every key becomes an environment
    /// variable (envFrom) of the worker and the init container.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub secret1_name: Option<String>,
    /// A second Secret mounted whole, like `secret1Name`.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub secret2_name: Option<String>,
    /// A third Secret mounted whole, like `secret1Name`.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub secret3_name: Option<String>,
    /// A fourth Secret mounted whole, like `secret1Name`.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub secret4_name: Option<String>,
    /// A fifth Secret mounted whole, like `secret1Name`.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub secret5_name: Option<String>,
    /// Secrets in the EventDrivenService's namespace, without the five-slot limit: each is mounted
    /// whole (`envFrom: true`) or key by key (`env`). The worker and the init container get the
    /// same variables. An environment variable may be set only once across all secrets, and a
    /// Secret mounted whole only once.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub secret_refs: Vec<SecretRef>,
    /// Secrets of type kubernetes.io/dockerconfigjson in the EventDrivenService's namespace, used
    /// to pull the image from a private registry.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map"))]
    #[schemars(extend("x-kubernetes-list-map-keys" = ["name"]))]
    pub image_pull_secrets: Vec<NameRef>,
    /// An init container that runs the worker's image with the same environment before the worker
    /// starts, e.g. for database migrations. Set `command`, `args` or both.
    pub init_container: Option<InitContainer>,
    /// Entrypoint of the worker container, replacing the image's, e.g. `["./app"]`. The init
    /// container keeps its own.
    #[serde(default)]
    #[schemars(length(max = 64))]
    #[schemars(inner(length(min = 1)))]
    pub command: Vec<String>,
    /// Arguments of the worker container, e.g. `["worker", "--queue=jobs"]`.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub args: Vec<String>,
    /// Plain environment variables of the worker and the init container, by name; emitted sorted by
    /// name. Names are C identifiers, set only once across `env`, `secretRefs` and `configMapRefs`;
    /// the NATS_* variables are the platform's.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 128))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "!('NATS_URL' in self) && !('NATS_STREAM_NAME' in self) && !('NATS_CONSUMER_GROUP' in self)", "message": "NATS_URL, NATS_STREAM_NAME and NATS_CONSUMER_GROUP are set by the platform"}]))]
    pub env: BTreeMap<String, String>,
    /// ConfigMaps in the EventDrivenService's namespace, each mounted whole (`envFrom: true`) or
    /// key by key (`env`), like `secretRefs`.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub config_map_refs: Vec<ConfigMapRef>,
    /// Secrets or ConfigMaps mounted read-only as files in the worker and the init container. Mount
    /// paths are absolute, distinct and not inside each other or `tmpDirs`.
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub files: Vec<File>,
    /// Absolute directories backed by an empty, writable volume (emptyDir), e.g. `/tmp` beside
    /// `readOnlyRootFilesystem`. When unset, the platform's default (function Input
    /// `defaults.tmpDirs`, none unless set) applies.
    #[schemars(length(max = 16))]
    #[schemars(inner(length(max = 1024), regex(pattern = r"^/")))]
    pub tmp_dirs: Option<Vec<String>>,
    /// Mount the containers' root filesystem read-only. When unset, the platform's default applies
    /// (function Input `defaults.readOnlyRootFilesystem`, false unless set).
    pub read_only_root_filesystem: Option<bool>,
    /// The worker's HTTP port: container port `http`, the Service's port, the default port of the
    /// probes and of `status.endpoint`.
    #[schemars(range(min = 1, max = 65535))]
    #[serde(default = "default_port")]
    pub port: i32,
    /// The ClusterIP Service in front of the worker's HTTP port.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub service: ServiceSpec,
    /// The worker container's probes. Liveness and readiness default to HTTP GET `/health` and
    /// `/ready` on `port`; a startup probe is composed only when set. Each probe is one of
    /// `httpGet`, `tcpSocket`, `exec` or `grpc` with Kubernetes' timing fields, or `enabled:
    /// false`; a port defaults to `port`.
    #[serde(default)]
    pub probes: Probes,
    /// Annotations of the worker's pods, e.g. `prometheus.io/scrape`.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 64))]
    pub pod_annotations: BTreeMap<String, String>,
    /// Extra labels of the worker's pods. The `app.kubernetes.io/` labels the function sets (name,
    /// component, managed-by, version) cannot be set here.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 32))]
    #[schemars(extend("additionalProperties" = {"type": "string", "maxLength": 63}))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "!('app.kubernetes.io/name' in self) && !('app.kubernetes.io/component' in self) && !('app.kubernetes.io/managed-by' in self) && !('app.kubernetes.io/version' in self)", "message": "the app.kubernetes.io/ name, component, managed-by and version labels are set by the function"}]))]
    pub pod_labels: BTreeMap<String, String>,
    /// The worker's ServiceAccount.
    #[serde(default)]
    pub service_account: ServiceAccountSpec,
    /// Where the worker's pods may run.
    #[serde(default)]
    pub scheduling: Scheduling,
    /// A PodDisruptionBudget for voluntary disruptions (node drains): `maxUnavailable` or
    /// `minAvailable`, a count or a percentage; `maxUnavailable: 1` when neither. When unset, the
    /// platform's default (function Input `defaults.disruptionBudget`) applies; `enabled: false`
    /// opts out of it.
    pub disruption_budget: Option<DisruptionBudget>,
    /// How pods stop at scale-in or rollout. When unset, the platform's default (function Input
    /// `defaults.shutdown`) applies field by field.
    #[serde(default)]
    pub shutdown: Shutdown,
    /// How KEDA scales the worker on the consumer's pending messages.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub scaling: Scaling,
    /// `true`: restart the pods when a Secret or ConfigMap they read changes (the secret slots,
    /// `secretRefs`, `configMapRefs`, `files`; not pull secrets). Crossplane fetches them for the
    /// function, which puts a hash of their data on the pod template. Crossplane needs read access
    /// to them.
    #[serde(default)]
    pub rollout_on_config_change: bool,
}

/// One ConfigMap, mounted whole or key by key.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "(has(self.envFrom) && self.envFrom) != (has(self.env) && size(self.env) > 0)", "message": "set exactly one of `envFrom: true` (every key) or a non-empty `env` (chosen keys)"}]))]
pub struct ConfigMapRef {
    /// Name of the ConfigMap.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub name: String,
    /// `true` mounts every key of the ConfigMap as an environment variable of the same name. Set
    /// this or `env`, not both.
    pub env_from: Option<bool>,
    /// Chosen keys of the ConfigMap, each exposed under a chosen variable name. Set this or
    /// `envFrom: true`, not both.
    #[serde(default)]
    #[schemars(length(max = 128))]
    #[schemars(extend("x-kubernetes-list-type" = "map"))]
    #[schemars(extend("x-kubernetes-list-map-keys" = ["envName"]))]
    pub env: Vec<ConfigMapKey>,
}

/// One key of the ConfigMap exposed as one environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMapKey {
    /// Key inside the ConfigMap (letters, digits, `-`, `_`, `.`).
    #[schemars(length(max = 253))]
    #[schemars(regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub config_map_key: String,
    /// Environment variable name in the containers, a C identifier.
    #[schemars(length(max = 128))]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "!(self in ['NATS_URL', 'NATS_STREAM_NAME', 'NATS_CONSUMER_GROUP'])", "message": "NATS_URL, NATS_STREAM_NAME and NATS_CONSUMER_GROUP are set by the platform"}]))]
    pub env_name: String,
}

/// One Secret or ConfigMap mounted as a directory of files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "has(self.secret) != has(self.configMap)", "message": "set exactly one of `secret` or `configMap`"}]))]
pub struct File {
    /// Absolute directory the files appear in, e.g. `/etc/nats`.
    #[schemars(length(max = 1024))]
    #[schemars(regex(pattern = r"^/"))]
    pub mount_path: String,
    /// Name of the Secret to mount. Set this or `configMap`.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub secret: Option<String>,
    /// Name of the ConfigMap to mount. Set this or `secret`.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub config_map: Option<String>,
    /// Only these keys, each at a relative path; when unset, every key under its own name.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub items: Vec<KeyPath>,
}

/// One key of a mounted Secret or ConfigMap at a relative path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPath {
    /// Key inside the Secret or ConfigMap.
    #[schemars(length(max = 253))]
    #[schemars(regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
    /// Relative file path under `mountPath`, without `..`.
    #[schemars(length(max = 1024))]
    #[schemars(regex(pattern = r"^[^/]"))]
    pub path: String,
}

/// Whether a Service is composed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceSpec {
    /// `false` composes no Service, declares no container port and reports no `status.endpoint`,
    /// for workers without an HTTP server.
    pub enabled: bool,
}

/// The three probes of the worker container; `None` keeps each one's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probes {
    /// One probe; fields left out keep their defaults.
    pub liveness: Option<ProbeSpec>,
    /// One probe; fields left out keep their defaults.
    pub readiness: Option<ProbeSpec>,
    /// One probe; fields left out keep their defaults.
    pub startup: Option<ProbeSpec>,
}

/// One probe as a claim states it: a handler and Kubernetes' timing fields, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "(has(self.httpGet) ? 1 : 0) + (has(self.tcpSocket) ? 1 : 0) + (has(self.exec) ? 1 : 0) + (has(self.grpc) ? 1 : 0) <= 1", "message": "set at most one of `httpGet`, `tcpSocket`, `exec` or `grpc`"}]))]
pub struct ProbeSpec {
    /// `false` composes no such probe; then set nothing else.
    pub enabled: Option<bool>,
    /// HTTP GET of `path` on `port`; ready below status 400.
    pub http_get: Option<HttpGet>,
    /// A TCP connection to `port`.
    pub tcp_socket: Option<PortOnly>,
    /// A command in the container; healthy when it exits with 0.
    pub exec: Option<Exec>,
    /// The gRPC health checking protocol on `port`.
    pub grpc: Option<Grpc>,
    /// Seconds after the container starts before the first check.
    #[schemars(range(min = 0))]
    pub initial_delay_seconds: Option<i32>,
    /// Seconds between checks.
    #[schemars(range(min = 1))]
    pub period_seconds: Option<i32>,
    /// Seconds a check may take.
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<i32>,
    /// Successes in a row that count as healthy again (1 for liveness and startup).
    #[schemars(range(min = 1))]
    pub success_threshold: Option<i32>,
    /// Failures in a row that count as unhealthy.
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<i32>,
}

/// An HTTP GET probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpGet {
    /// Absolute path, e.g. `/healthz`.
    #[schemars(length(max = 1024))]
    #[schemars(regex(pattern = r"^/"))]
    pub path: Option<String>,
    /// Port; `port` when unset.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// A probe that needs only a port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortOnly {
    /// Port; `port` when unset.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// A command probe.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    /// The command and its arguments, run without a shell.
    #[schemars(inner(length(min = 1)))]
    #[schemars(length(min = 1, max = 64))]
    pub command: Vec<String>,
}

/// A gRPC health check probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grpc {
    /// Port; `port` when unset.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Service name sent in the health check request.
    #[schemars(length(max = 253))]
    pub service: Option<String>,
}

/// The ServiceAccount's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountSpec {
    /// Annotations of the ServiceAccount, e.g. `eks.amazonaws.com/role-arn` or
    /// `iam.gke.io/gcp-service-account` for workload identity.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 32))]
    pub annotations: BTreeMap<String, String>,
}

/// Where the pods may run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scheduling {
    /// Node labels a node must carry, e.g. `kubernetes.io/arch: arm64`.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 32))]
    #[schemars(extend("additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the pods tolerate (Kubernetes Toleration).
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub tolerations: Vec<Toleration>,
    /// Kubernetes Affinity of the pods (nodeAffinity, podAffinity, podAntiAffinity), checked by the
    /// function against Kubernetes' type.
    #[serde(default)]
    #[schemars(schema_with = "any_object")]
    pub affinity: Option<Affinity>,
    /// PriorityClass of the pods.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub priority_class_name: Option<String>,
    /// Spread the pods across zones (`zone`) or nodes (`host`) as far as the scheduler can, or not
    /// at all (`none`). When unset, the platform's default applies (function Input
    /// `defaults.scheduling.spread`, `none` unless set).
    pub spread: Option<Spread>,
}

/// How the pods spread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// Across zones.
    Zone,
    /// Across nodes.
    Host,
    /// Not at all.
    #[default]
    None,
}

/// A PodDisruptionBudget as a claim or the Input states it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.maxUnavailable) || !has(self.minAvailable)", "message": "set `maxUnavailable` or `minAvailable`, not both"}]))]
pub struct DisruptionBudget {
    /// `false` composes no PodDisruptionBudget.
    pub enabled: Option<bool>,
    /// Most pods down at once, e.g. `1` or `25%`.
    #[serde(default)]
    #[schemars(schema_with = "int_or_string")]
    pub max_unavailable: Option<IntOrString>,
    /// Fewest pods kept up, e.g. `1` or `50%`.
    #[serde(default)]
    #[schemars(schema_with = "int_or_string")]
    pub min_available: Option<IntOrString>,
}

/// How pods stop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.gracePeriodSeconds) || !has(self.preStopSleepSeconds) || self.preStopSleepSeconds < self.gracePeriodSeconds", "message": "preStopSleepSeconds must be shorter than gracePeriodSeconds"}]))]
pub struct Shutdown {
    /// Seconds between SIGTERM and SIGKILL (the pod's terminationGracePeriodSeconds; Kubernetes'
    /// default is 30): time to finish the messages in flight.
    #[schemars(range(min = 0, max = 86400))]
    pub grace_period_seconds: Option<i64>,
    /// Seconds the container sleeps before SIGTERM (lifecycle.preStop.sleep, Kubernetes 1.30 or
    /// later), so endpoints and the scaler see it leave first.
    #[schemars(range(min = 1, max = 3600))]
    pub pre_stop_sleep_seconds: Option<i64>,
}

/// Resource presets; the table behind them may be overridden in the function Input.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
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
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Nats {
    /// NATS client URL handed to the worker as `NATS_URL`, e.g. `nats://nats.nats.svc:4222`
    /// (schemes nats, tls, ws, wss; several servers comma-separated). When unset, the platform's
    /// default applies: `nats://nats.nats.svc:4222` unless the function Input sets another.
    #[schemars(regex(pattern = r"^(nats|tls|ws|wss)://[^\s,]+(,(nats|tls|ws|wss)://[^\s,]+)*$"))]
    pub url: Option<String>,
    /// Name of an existing JetStream stream, handed to the worker as `NATS_STREAM_NAME`. No
    /// whitespace, `.`, `*`, `>` or slashes.
    #[schemars(regex(pattern = r"^[^\s.*>/\\]+$"))]
    pub stream: String,
    /// Name of the durable consumer the worker pulls from and KEDA measures, handed to the worker
    /// as `NATS_CONSUMER_GROUP`. No whitespace, `.`, `*`, `>` or slashes.
    #[schemars(regex(pattern = r"^[^\s.*>/\\]+$"))]
    pub consumer: String,
    /// `host:port` of the NATS monitoring port (8222) that KEDA polls, without a scheme. In a
    /// clustered JetStream it must be the headless service, so KEDA can reach the consumer leader
    /// pod. When unset, the platform's default applies: `nats-headless.nats.svc.cluster.local:8222`
    /// unless the function Input sets another.
    #[schemars(regex(pattern = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:[0-9]{1,5}$"))]
    pub monitoring_endpoint: Option<String>,
    /// NATS account that owns the stream, by name, as KEDA's scaler matches it in the monitoring
    /// port's /jsz report. When unset, the platform's default applies: `$G` (the global account,
    /// where a server without configured accounts keeps every stream) unless the function Input
    /// sets another. With configured accounts, the account's name. Never `$SYS`: JetStream cannot
    /// run in the system account.
    #[schemars(length(min = 1))]
    pub account: Option<String>,
    /// NATS account that owns the stream, by ID: the account's public key in an operator (JWT)
    /// deployment. When set, KEDA queries /jsz for this ID and keeps the account whose ID equals it
    /// (or whose name equals `account`).
    #[serde(rename = "accountID")]
    #[schemars(length(min = 1))]
    pub account_id: Option<String>,
    /// Whether KEDA polls the monitoring endpoint over HTTPS. When unset, KEDA uses HTTP.
    pub use_https: Option<bool>,
    /// Compose the durable consumer itself, as a NACK `Consumer` (`jetstream.nats.io/v1beta2`)
    /// named `consumer` on `stream`, with explicit acknowledgements. It then exists before the
    /// first pod starts (KEDA has something to measure even at zero replicas), and with
    /// `preventDelete` NACK leaves the JetStream consumer in NATS when the claim and its Consumer
    /// resource are deleted: recreating the claim keeps its position. When unset, the worker or
    /// someone else must create the consumer.
    pub durable_consumer: Option<DurableConsumer>,
}

/// A durable consumer composed as a NACK Consumer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DurableConsumer {
    /// How long NATS waits for an acknowledgement before it redelivers a message, as a Go duration
    /// (`30s`, `2m`, `1m30s`). With `backoff`, NATS waits `backoff[0]` for the first redelivery
    /// instead.
    #[schemars(length(max = 32))]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"))]
    #[serde(default = "default_ack_wait")]
    pub ack_wait: String,
    /// How many times a message is delivered before NATS gives up on it; -1 or unset: without
    /// limit. Must be at least the number of `backoff` steps.
    #[schemars(range(min = -1))]
    pub max_deliver: Option<i64>,
    /// Messages delivered and not yet acknowledged, across all replicas, before NATS stops
    /// delivering. When unset, NATS' default (1000).
    #[schemars(range(min = 1))]
    pub max_ack_pending: Option<i64>,
    /// Only messages on these subjects (wildcards `*` and a final `>` allowed); all of the stream's
    /// when unset.
    #[serde(default)]
    #[schemars(inner(
        length(max = 256),
        regex(pattern = r"^(>|([^.\s*>]+|\*)(\.([^.\s*>]+|\*))*(\.>)?)$")
    ))]
    #[schemars(length(min = 1, max = 64))]
    pub filter_subjects: Vec<String>,
    /// Redelivery delays, one per delivery attempt, as Go durations, each at least as long as the
    /// one before (`[10s, 1m, 5m]`); the last one repeats. At most `maxDeliver` steps.
    #[serde(default)]
    #[schemars(inner(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
    ))]
    #[schemars(length(min = 1, max = 64))]
    pub backoff: Vec<String>,
    /// A NACK `Account` in the EventDrivenService's namespace that holds the connection (servers,
    /// credentials, TLS) NACK uses for this consumer. When unset, NACK's own connection and `url`
    /// apply.
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

/// One Secret, mounted whole or key by key.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "(has(self.envFrom) && self.envFrom) != (has(self.env) && size(self.env) > 0)", "message": "set exactly one of `envFrom: true` (every key) or a non-empty `env` (chosen keys)"}]))]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub name: String,
    /// `true` mounts every key of the Secret as an environment variable of the same name. Set this
    /// or `env`, not both.
    pub env_from: Option<bool>,
    /// Chosen keys of the Secret, each exposed under a chosen variable name. Set this or `envFrom:
    /// true`, not both.
    #[serde(default)]
    #[schemars(length(max = 128))]
    #[schemars(extend("x-kubernetes-list-type" = "map"))]
    #[schemars(extend("x-kubernetes-list-map-keys" = ["envName"]))]
    pub env: Vec<EnvFromKey>,
}

/// One key of the Secret exposed as one environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvFromKey {
    /// Key inside the Secret (letters, digits, `-`, `_`, `.`).
    #[schemars(length(max = 253))]
    #[schemars(regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub secret_key: String,
    /// Environment variable name in the containers: a C identifier (letters, digits and `_`, not
    /// starting with a digit). NATS_URL, NATS_STREAM_NAME and NATS_CONSUMER_GROUP are set by the
    /// platform.
    #[schemars(length(max = 128))]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "!(self in ['NATS_URL', 'NATS_STREAM_NAME', 'NATS_CONSUMER_GROUP'])", "message": "NATS_URL, NATS_STREAM_NAME and NATS_CONSUMER_GROUP are set by the platform"}]))]
    pub env_name: String,
}

/// A reference to an object by name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameRef {
    /// Name of the object.
    #[schemars(length(max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub name: String,
}

/// The optional init container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "(has(self.command) && size(self.command) > 0) || (has(self.args) && size(self.args) > 0)", "message": "set `command` or `args`; without them the init container would run the worker itself"}]))]
pub struct InitContainer {
    /// Entrypoint, replacing the image's, e.g. `["/bin/sh", "-c"]`.
    #[serde(default)]
    #[schemars(inner(length(min = 1)))]
    pub command: Vec<String>,
    /// Arguments to the entrypoint, e.g. `["./migrate.sh"]`.
    #[serde(default)]
    #[schemars(inner(length(min = 1)))]
    pub args: Vec<String>,
}

/// KEDA scaling settings.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas", "message": "minReplicas must not exceed maxReplicas"}, {"rule": "!has(self.idleReplicas) || self.idleReplicas < self.minReplicas", "message": "idleReplicas must be below minReplicas"}]))]
pub struct Scaling {
    /// Fewest replicas; 0 lets KEDA scale the worker to zero when idle.
    #[schemars(range(min = 0, max = 2147483647))]
    pub min_replicas: i32,
    /// Most replicas; at least `minReplicas`.
    #[schemars(range(min = 1, max = 2147483647))]
    pub max_replicas: i32,
    /// Pending messages (unprocessed plus unacknowledged) per replica that KEDA aims for.
    #[schemars(range(min = 1))]
    pub lag_threshold: i64,
    /// Pending messages above which KEDA wakes the worker from zero replicas. When unset, KEDA's
    /// default (0) applies.
    #[schemars(range(min = 0))]
    pub activation_lag_threshold: Option<i64>,
    /// Replicas while the consumer has no pending messages above the activation threshold:
    /// the worker sleeps at this count and wakes straight to `minReplicas`. Only 0 works (a
    /// limit of the HorizontalPodAutoscaler), and only below `minReplicas`.
    #[schemars(range(min = 0, max = 0))]
    pub idle_replicas: Option<i32>,
    /// Seconds between KEDA's checks of the consumer.
    #[schemars(range(min = 1, max = 2147483647))]
    pub polling_interval: i32,
    /// Seconds KEDA waits after the last pending message before scaling down to zero (applies when
    /// `minReplicas` is 0).
    #[schemars(range(min = 0, max = 2147483647))]
    pub cooldown_period: i32,
    /// Replicas KEDA keeps while it cannot read the consumer's lag (NATS unreachable): after more
    /// than `failureThreshold` failed reads in a row, KEDA scales to `replicas`. The nats-jetstream
    /// trigger uses an averaged target, which fallback needs, so it works even from zero replicas.
    pub fallback: Option<Fallback>,
    /// How fast the HorizontalPodAutoscaler KEDA creates scales up and down: Kubernetes' HPA
    /// behavior, e.g. a long `scaleDown` stabilization window so a bursty stream does not shed pods
    /// between bursts.
    pub behavior: Option<Behavior>,
    /// Also scale on CPU: the average utilization of the pods' CPU request, in percent, that
    /// KEDA's `cpu` trigger aims for beside the lag (KEDA scales on whichever asks for more).
    /// At zero replicas there is no CPU to measure: only the lag wakes the worker.
    #[schemars(range(min = 1, max = 1000))]
    pub cpu_utilization: Option<i32>,
    /// Also scale on memory: the average utilization of the pods' memory request, in percent,
    /// that KEDA's `memory` trigger aims for beside the lag. At zero replicas only the lag wakes
    /// the worker.
    #[schemars(range(min = 1, max = 1000))]
    pub memory_utilization: Option<i32>,
    /// `true`: KEDA stops scaling (maintenance, incidents). Replicas stay as they are, or go to
    /// `pausedReplicas` when set. `false` resumes.
    pub paused: bool,
    /// Replicas KEDA scales to and holds while `paused` is true; within minReplicas..maxReplicas.
    /// Ignored while not paused.
    #[schemars(range(min = 0))]
    pub paused_replicas: Option<i32>,
}

/// KEDA's fallback.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fallback {
    /// Failed reads in a row tolerated before the fallback applies.
    #[schemars(range(min = 0))]
    pub failure_threshold: i32,
    /// Replicas while falling back; within minReplicas..maxReplicas.
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// How `replicas` applies: `static` (exactly), `currentReplicas` (keep the current count),
    /// `currentReplicasIfHigher` (the higher of the two), `currentReplicasIfLower` (the lower).
    /// KEDA's default is `static`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower"]))]
    pub behavior: Option<String>,
}

impl Spec {
    /// Secrets mounted whole, in order: the five slots, then `secretRefs` with `envFrom: true`.
    pub fn env_from_secrets(&self) -> impl Iterator<Item = &str> {
        let slots = self.secret_slots();
        let refs = self
            .secret_refs
            .iter()
            .filter(|r| r.env_from == Some(true))
            .map(|r| r.name.as_str());
        slots.into_iter().filter_map(|s| s.as_deref()).chain(refs)
    }

    /// The five legacy secret slots, in slot order.
    pub fn secret_slots(&self) -> [&Option<String>; 5] {
        [
            &self.secret1_name,
            &self.secret2_name,
            &self.secret3_name,
            &self.secret4_name,
            &self.secret5_name,
        ]
    }

    /// The image tag, when the image has one.
    pub fn image_tag(&self) -> Option<&str> {
        let without_digest = self.image.split('@').next().unwrap_or_default();
        let last = without_digest.rsplit('/').next().unwrap_or_default();
        last.split_once(':').map(|(_, tag)| tag)
    }
}

/// A taint the pods tolerate (Kubernetes Toleration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toleration {
    /// Taint key to tolerate; empty with `operator: Exists` tolerates every taint.
    #[schemars(length(max = 317))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (the default: key and value match) or `Exists` (any value).
    #[schemars(extend("enum" = ["Exists", "Equal"]))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Taint value to match with `Equal`.
    #[schemars(length(max = 63))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Taint effect to tolerate; all effects when unset.
    #[schemars(extend("enum" = ["NoSchedule", "PreferNoSchedule", "NoExecute"]))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// Seconds a NoExecute taint is tolerated before eviction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// How fast the HorizontalPodAutoscaler KEDA creates scales up and down, as Kubernetes states it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Behavior {
    /// Kubernetes' HPA scaling rules for this direction: a stabilization window, policies
    /// limiting the change per period, and how to choose among the policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScalingRules>,
    /// Kubernetes' HPA scaling rules for this direction: a stabilization window, policies
    /// limiting the change per period, and how to choose among the policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScalingRules>,
}

/// The HPA's scaling rules for one direction.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingRules {
    /// Seconds of past recommendations considered before changing the count (Kubernetes'
    /// defaults: 0 up, 300 down).
    #[schemars(range(min = 0, max = 3600))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i32>,
    /// `Max` (the policy allowing the biggest change), `Min`, or `Disabled` (never scale in this
    /// direction).
    #[schemars(extend("enum" = ["Max", "Min", "Disabled"]))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<String>,
    /// Limits on the change within a period.
    #[schemars(length(min = 1, max = 10))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<ScalingPolicy>>,
}

/// One limit on the change within a period.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingPolicy {
    /// `Pods` (a count) or `Percent` (of the current replicas).
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["Pods", "Percent"]))]
    pub kind: String,
    /// Pods or percent allowed to change within the period.
    #[schemars(range(min = 1))]
    pub value: i32,
    /// Length of the period in seconds.
    #[schemars(range(min = 1, max = 1800))]
    pub period_seconds: i32,
}

/// The schema of a field read as a Kubernetes type that the rules check: any object.
pub(crate) fn any_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// The schema of Kubernetes' int-or-string.
fn int_or_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"x-kubernetes-int-or-string": true})
}

/// The worker's HTTP port when the claim sets none.
fn default_port() -> i32 {
    8080
}

/// NATS' wait for an acknowledgement when the claim sets none.
fn default_ack_wait() -> String {
    "30s".into()
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Default for Scaling {
    fn default() -> Self {
        Self {
            min_replicas: 1,
            max_replicas: 10,
            lag_threshold: 5,
            activation_lag_threshold: None,
            idle_replicas: None,
            polling_interval: 5,
            cooldown_period: 300,
            fallback: None,
            behavior: None,
            cpu_utilization: None,
            memory_utilization: None,
            paused: false,
            paused_replicas: None,
        }
    }
}
