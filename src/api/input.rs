//! Platform settings from the function Input.
//!
//! These types are the Input's only definition: the Input CRD (package/input/) is generated
//! from them, and their `Default` impls are the built-in settings; `api::settings` reads an
//! Input into them.

use crate::api::{
    go_duration,
    spec::{DisruptionBudget, Shutdown, Size, Spread},
};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use std::time::Duration;

/// What the function emits for the four resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Output {
    /// provider-kubernetes Objects wrapping each manifest.
    #[default]
    Objects,
    /// The Kubernetes resources themselves (Crossplane v2 only).
    Direct,
}

/// CPU and memory of one size preset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// CPU request, a Kubernetes quantity such as `500m` or `2`.
    #[schemars(regex(
        pattern = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
    ))]
    pub cpu_request: String,
    /// CPU limit, at least the request.
    #[schemars(regex(
        pattern = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
    ))]
    pub cpu_limit: String,
    /// Memory request, a Kubernetes quantity such as `512Mi` or `4Gi`.
    #[schemars(regex(
        pattern = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
    ))]
    pub memory_request: String,
    /// Memory limit, at least the request.
    #[schemars(regex(
        pattern = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
    ))]
    pub memory_limit: String,
}

/// The size table: what `small`, `medium` and `large` mean.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SizeTable {
    /// Resources of `size: small`.
    pub small: Resources,
    /// Resources of `size: medium`, the default size.
    pub medium: Resources,
    /// Resources of `size: large`.
    pub large: Resources,
}

impl SizeTable {
    /// The resources of one size.
    pub fn get(&self, size: Size) -> &Resources {
        match size {
            Size::Small => &self.small,
            Size::Medium => &self.medium,
            Size::Large => &self.large,
        }
    }
}

/// The ProviderConfig the Objects use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfigRef {
    /// Name of the ProviderConfig (or ClusterProviderConfig).
    #[schemars(length(min = 1))]
    pub name: String,
    /// Kind of the provider config. Only namespaced Objects (kubernetes.m.crossplane.io, Crossplane
    /// v2) carry a kind; cluster-scoped Objects always name a ProviderConfig.
    #[schemars(extend("enum" = ["ProviderConfig", "ClusterProviderConfig"]))]
    pub kind: String,
}

/// NATS settings for claims that leave them unset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NatsDefaults {
    /// NATS client URL handed to the worker as `NATS_URL` (schemes nats, tls, ws, wss; several
    /// servers comma-separated).
    #[schemars(regex(pattern = r"^(nats|tls|ws|wss)://[^\s,]+(,(nats|tls|ws|wss)://[^\s,]+)*$"))]
    pub url: String,
    /// `host:port` of the NATS monitoring port that KEDA polls, without a scheme; the headless
    /// service in a clustered JetStream.
    #[schemars(regex(pattern = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:[0-9]{1,5}$"))]
    pub monitoring_endpoint: String,
    /// NATS account that owns the streams, by name, as KEDA's scaler matches it: `$G` on a server
    /// without configured accounts, else the account's name.
    #[schemars(length(min = 1))]
    pub account: String,
    /// NATS account that owns the streams, by ID (its public key in an operator/JWT deployment);
    /// passed to KEDA as `accountID` when set.
    #[serde(rename = "accountID")]
    #[schemars(length(min = 1))]
    pub account_id: Option<String>,
}

/// Worker settings a claim may leave to the platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WorkerDefaults {
    /// Mount the containers' root filesystem read-only.
    pub read_only_root_filesystem: bool,
    /// Absolute directories backed by an empty, writable volume, e.g. `/tmp`.
    #[serde(default)]
    #[schemars(length(max = 16))]
    #[schemars(inner(length(max = 1024), regex(pattern = r"^/")))]
    pub tmp_dirs: Vec<String>,
    /// Where the pods run.
    #[schemars(extend("default" = {}))]
    pub scheduling: SchedulingDefaults,
    /// How pods stop, as a claim's `shutdown`.
    #[serde(default)]
    pub shutdown: Shutdown,
    /// A PodDisruptionBudget for every worker, as a claim's `disruptionBudget`; a claim's `enabled:
    /// false` opts out.
    pub disruption_budget: Option<DisruptionBudget>,
}

/// The scheduling a claim may leave to the platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulingDefaults {
    /// Spread the pods across zones (`zone`), nodes (`host`) or not (`none`).
    pub spread: Spread,
}

/// Everything a platform team may set once per Composition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
// Unknown fields are the schema's to refuse; serde lets the envelope (apiVersion, kind,
// metadata) through.
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// The provider-kubernetes ProviderConfig the composed Objects use to reach the cluster.
    #[schemars(extend("default" = {}))]
    pub provider_config_ref: ProviderConfigRef,
    /// `Objects` wraps each Kubernetes resource in a provider-kubernetes Object; `Direct` composes
    /// the resources themselves, which needs Crossplane v2 and RBAC for Crossplane on Deployments,
    /// Services, ServiceAccounts and ScaledObjects.
    pub output: Output,
    /// NATS defaults for claims that leave these fields unset. A value set in a claim always wins.
    #[schemars(extend("default" = {}))]
    pub nats: NatsDefaults,
    /// What each size means in CPU and memory. A size listed here replaces that whole row, so all
    /// four quantities are required; sizes not listed keep their defaults.
    #[schemars(extend("default" = {}))]
    pub sizes: SizeTable,
    /// How long Crossplane may cache the function's response, as seconds or with a unit (`90`,
    /// `60s`, `5m`, `1h`). When unset, the function's `--ttl` flag applies (60s unless changed).
    #[serde(default, deserialize_with = "ttl")]
    #[schemars(with = "Option<String>")]
    #[schemars(regex(pattern = r"^[0-9]+[smh]?$"))]
    pub ttl: Option<Duration>,
    /// What the platform sets once for every worker; a claim's own field of the same name wins
    /// (`shutdown` field by field).
    #[schemars(extend("default" = {}))]
    pub defaults: WorkerDefaults,
}

fn resources(cpu: (&str, &str), memory: (&str, &str)) -> Resources {
    Resources {
        cpu_request: cpu.0.into(),
        cpu_limit: cpu.1.into(),
        memory_request: memory.0.into(),
        memory_limit: memory.1.into(),
    }
}

impl Default for SizeTable {
    fn default() -> Self {
        Self {
            small: resources(("250m", "1000m"), ("512Mi", "2Gi")),
            medium: resources(("500m", "2000m"), ("1Gi", "4Gi")),
            large: resources(("1000m", "4000m"), ("2Gi", "8Gi")),
        }
    }
}

impl Default for ProviderConfigRef {
    fn default() -> Self {
        Self {
            name: "kubernetes-provider".into(),
            kind: "ClusterProviderConfig".into(),
        }
    }
}

impl Default for NatsDefaults {
    fn default() -> Self {
        Self {
            url: "nats://nats.nats.svc:4222".into(),
            monitoring_endpoint: "nats-headless.nats.svc.cluster.local:8222".into(),
            account: "$G".into(),
            account_id: None,
        }
    }
}

/// Reads the Input's `ttl`: seconds, or a Go duration.
fn ttl<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Parses a TTL: whole seconds (`90`) or a Go duration (`60s`, `5m`, `1h`); the unit syntax is
/// the one the consumer's durations use, read by the same parser.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    match s.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => go_duration::parse(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_seconds_minutes_and_hours() {
        let cases = [
            ("60", Some(60)),
            ("60s", Some(60)),
            ("5m", Some(300)),
            ("1h", Some(3600)),
            ("1d", None),
            ("s", None),
            ("-1s", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_duration(input).ok().map(|d| d.as_secs()),
                want,
                "parsing {input:?}"
            );
        }
    }
}
