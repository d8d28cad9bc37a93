//! Platform settings from the function Input.
//!
//! The Input CRD (package/input/, embedded) is the Input's only definition: its schema checks
//! the structure and holds every built-in default; these types give the checked Input a shape.

use crate::{
    api::{
        definition,
        field_error::FieldError,
        go_duration, openapi_check, pod_rules,
        rules::checked,
        spec::{DisruptionBudget, Shutdown, Size, Spread},
    },
    document::{openapi::Schema, tree},
};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::{sync::LazyLock, time::Duration};

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
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
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

/// The Input CRD's schema, compiled once.
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    // The CRD is compiled in; `the_input_crd_compiles_and_its_defaults_make_whole_settings`
    // proves this cannot fail.
    Schema::compile(definition::input_schema())
        .unwrap_or_else(|e| unreachable!("the Input CRD's schema: {e}"))
});

/// The fields every Kubernetes object has, which name the Input rather than set anything.
const ENVELOPE: &[&str] = &["apiVersion", "kind", "metadata"];

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

impl Settings {
    /// Reads the function Input (absent means every default); every mistake names its field
    /// as `input.<path>`.
    pub fn from_input(input: Option<&Value>) -> Result<Self, Vec<FieldError>> {
        let Some(input) = input else {
            return Ok(Self::default());
        };
        let mut errors = openapi_check::check(&SCHEMA, input, "input", &[]);
        if let Some(error) = identity_problem(input) {
            errors.push(error);
        }
        requests_within_limits(input, &mut errors);
        if let Some(defaults) = input.get("defaults") {
            errors.extend(pod_rules::defaults_problems(defaults, &errors));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        tree::deserialize_defaulted(input, ENVELOPE, &SCHEMA)
            // The CRD accepted it; only a field the CRD has and these types lack, or a ttl
            // too long to count in seconds, gets here.
            .map_err(|e| vec![FieldError::new("input", e.to_string())])
    }
}

/// Why `input` is not this function's Input, by its apiVersion and kind (the CRD's group,
/// version and kind).
fn identity_problem(input: &Value) -> Option<FieldError> {
    let api_version = format!("{}/{}", definition::INPUT_GROUP, definition::INPUT_VERSION);
    let kind = definition::INPUT_KIND;
    let got = |key| {
        input
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (got("apiVersion"), got("kind")) {
        (Some(a), Some(k)) if a == api_version && k == kind => None,
        (a, k) => Some(FieldError::new(
            "input",
            format!(
                "must be apiVersion {api_version}, kind {kind} (got {}, {})",
                a.unwrap_or("no apiVersion"),
                k.unwrap_or("no kind")
            ),
        )),
    }
}

/// A size's requests may not exceed its limits; quantities the schema refused take no part.
fn requests_within_limits(input: &Value, errors: &mut Vec<FieldError>) {
    let sizes = input.get("sizes").and_then(Value::as_object);
    for (size, row) in sizes.into_iter().flatten() {
        for (request, limit) in [("cpuRequest", "cpuLimit"), ("memoryRequest", "memoryLimit")] {
            let path = |key| format!("input.sizes.{size}.{key}");
            let quantity = |key| {
                let text = checked(row.get(key), &path(key), errors)?.as_str()?;
                Some((text, quantity_value(text)?))
            };
            if let (Some((request_text, r)), Some((limit_text, l))) =
                (quantity(request), quantity(limit))
            {
                if r > l {
                    errors.push(FieldError::new(
                        path(request),
                        format!(
                            "must not exceed {} ({request_text} > {limit_text})",
                            path(limit)
                        ),
                    ));
                }
            }
        }
    }
}

fn ttl<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// The magnitude of a Kubernetes quantity the Input CRD's pattern accepted, for comparing
/// requests with limits.
fn quantity_value(q: &str) -> Option<f64> {
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = suffixes
        .iter()
        .find_map(|(suffix, factor)| q.strip_suffix(suffix).map(|n| (n, *factor)))
        .unwrap_or((q, 1.0));
    number.parse::<f64>().ok().map(|n| n * factor)
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
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use serde_json::json;

    fn input(fields: Value) -> Value {
        let mut input =
            json!({"apiVersion": "eventdrivenservice.fn.bizmatters.io/v1beta1", "kind": "Input"});
        input
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        input
    }

    #[test]
    fn the_input_crd_compiles_and_its_defaults_make_whole_settings() {
        assert!(Schema::compile(definition::input_schema()).is_ok());
        let defaults = Settings::default();
        assert_eq!(Settings::from_input(None), Ok(defaults.clone()));
        assert_eq!(Settings::from_input(Some(&input(json!({})))), Ok(defaults));
    }

    #[test]
    fn a_full_input_overrides_every_setting() {
        let input = input(json!({
            "providerConfigRef": {"name": "in-cluster", "kind": "ProviderConfig"},
            "output": "Direct",
            "nats": {"url": "tls://nats.prod:4222", "monitoringEndpoint": "nats-mon.prod:8222", "account": "APP", "accountID": "ACCT"},
            "sizes": {"small": {"cpuRequest": "100m", "cpuLimit": "1", "memoryRequest": "256Mi", "memoryLimit": "1Gi"}},
            "ttl": "5m",
            "defaults": {
                "readOnlyRootFilesystem": true,
                "tmpDirs": ["/tmp"],
                "scheduling": {"spread": "zone"},
                "shutdown": {"gracePeriodSeconds": 120, "preStopSleepSeconds": 5},
                "disruptionBudget": {"minAvailable": "50%"},
            },
        }));
        let got = Settings::from_input(Some(&input)).unwrap();
        let defaults = Settings::default();
        let want = Settings {
            provider_config_ref: ProviderConfigRef {
                name: "in-cluster".into(),
                kind: "ProviderConfig".into(),
            },
            output: Output::Direct,
            nats: NatsDefaults {
                url: "tls://nats.prod:4222".into(),
                monitoring_endpoint: "nats-mon.prod:8222".into(),
                account: "APP".into(),
                account_id: Some("ACCT".into()),
            },
            sizes: SizeTable {
                small: Resources {
                    cpu_request: "100m".into(),
                    cpu_limit: "1".into(),
                    memory_request: "256Mi".into(),
                    memory_limit: "1Gi".into(),
                },
                ..defaults.sizes
            },
            ttl: Some(Duration::from_secs(300)),
            defaults: WorkerDefaults {
                read_only_root_filesystem: true,
                tmp_dirs: vec!["/tmp".into()],
                scheduling: SchedulingDefaults {
                    spread: Spread::Zone,
                },
                shutdown: Shutdown {
                    grace_period_seconds: Some(120),
                    pre_stop_sleep_seconds: Some(5),
                },
                disruption_budget: Some(DisruptionBudget {
                    enabled: None,
                    max_unavailable: None,
                    min_available: Some(IntOrString::String("50%".into())),
                }),
            },
        };
        assert_eq!(got, want);
    }

    #[test]
    fn every_input_mistake_is_named() {
        let input = json!({
            "apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources",
            "output": "Both", "ttl": "soon", "extra": 1,
            "providerConfigRef": {"kind": "Cluster", "name": ""},
            "nats": {"url": "http://nats:4222", "monitoringEndpoint": "http://nats:8222"},
            "sizes": {"small": {"cpuRequest": "2", "cpuLimit": "1", "memoryRequest": "lots", "memoryLimit": "1Gi"}, "huge": {}},
        });
        let mut errors = Settings::from_input(Some(&input)).unwrap_err();
        errors.sort();
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "input: must be apiVersion eventdrivenservice.fn.bizmatters.io/v1beta1, kind Input (got pt.fn.crossplane.io/v1beta1, Resources)",
                "input.extra: unknown field; expected one of: apiVersion, kind, metadata, providerConfigRef, output, nats, sizes, ttl, defaults",
                "input.nats.monitoringEndpoint: must be host:port of the NATS monitoring port without a scheme, like nats-headless.nats.svc.cluster.local:8222 (got \"http://nats:8222\")",
                "input.nats.url: must be a NATS URL with scheme nats, tls, ws or wss, like nats://nats.nats.svc:4222 (got \"http://nats:4222\")",
                "input.output: must be one of Objects, Direct (got \"Both\")",
                "input.providerConfigRef.kind: must be one of ProviderConfig, ClusterProviderConfig (got \"Cluster\")",
                "input.providerConfigRef.name: must not be empty",
                "input.sizes.huge: unknown field; expected one of: small, medium, large",
                "input.sizes.small.cpuRequest: must not exceed input.sizes.small.cpuLimit (2 > 1)",
                "input.sizes.small.memoryRequest: must be a Kubernetes quantity like 500m, 2, 512Mi or 4Gi (got \"lots\")",
                "input.ttl: must be a duration like 60s, 5m or 1h (got \"soon\")",
            ]
        );
    }

    #[test]
    fn quantities_compare_across_units() {
        assert_eq!(quantity_value("500m"), Some(0.5));
        assert_eq!(quantity_value("1Gi"), Some(1024f64.powi(3)));
        assert!(quantity_value("1000m") < quantity_value("2"));
        assert_eq!(quantity_value("Mi"), None);
    }

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
