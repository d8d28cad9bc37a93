//! Platform settings from the function Input, resolved against built-in defaults.

use crate::api::spec::{Size, DEFAULT_MONITORING_ENDPOINT, DEFAULT_NATS_ACCOUNT, DEFAULT_NATS_URL};
use crate::{
    api::field_error::FieldError,
    api::fields::{object, Errors},
    api::rules,
};
use serde_json::Value;
use std::time::Duration;

/// Default provider-kubernetes ProviderConfig name.
pub const DEFAULT_PROVIDER_CONFIG: &str = "kubernetes-provider";

/// What the function emits for the four resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Output {
    /// provider-kubernetes Objects wrapping each manifest.
    #[default]
    Objects,
    /// The Kubernetes resources themselves (Crossplane v2 only).
    Direct,
}

/// CPU and memory of one size preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// CPU request.
    pub cpu_request: String,
    /// CPU limit.
    pub cpu_limit: String,
    /// Memory request.
    pub memory_request: String,
    /// Memory limit.
    pub memory_limit: String,
}

/// The size table: what `small`, `medium` and `large` mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeTable {
    /// `small`.
    pub small: Resources,
    /// `medium`.
    pub medium: Resources,
    /// `large`.
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

fn preset(
    cpu_request: &str,
    cpu_limit: &str,
    memory_request: &str,
    memory_limit: &str,
) -> Resources {
    Resources {
        cpu_request: cpu_request.into(),
        cpu_limit: cpu_limit.into(),
        memory_request: memory_request.into(),
        memory_limit: memory_limit.into(),
    }
}

impl Default for SizeTable {
    fn default() -> Self {
        Self {
            small: preset("250m", "1000m", "512Mi", "2Gi"),
            medium: preset("500m", "2000m", "1Gi", "4Gi"),
            large: preset("1000m", "4000m", "2Gi", "8Gi"),
        }
    }
}

/// The ProviderConfig the Objects use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfigRef {
    /// Name of the (Cluster)ProviderConfig.
    pub name: String,
    /// `ProviderConfig` or `ClusterProviderConfig`; only namespaced Objects carry a kind.
    pub kind: String,
}

/// Everything a platform team may set once per Composition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Objects or direct resources.
    pub output: Output,
    /// ProviderConfig of the Objects.
    pub provider_config_ref: ProviderConfigRef,
    /// NATS client URL when the spec has none.
    pub nats_url: String,
    /// NATS monitoring endpoint when the spec has none.
    pub nats_monitoring_endpoint: String,
    /// NATS account when the spec has none.
    pub nats_account: String,
    /// NATS account ID when the spec has none.
    pub nats_account_id: Option<String>,
    /// What each size means.
    pub sizes: SizeTable,
    /// Response TTL; `None` keeps the server's `--ttl`.
    pub ttl: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            output: Output::default(),
            provider_config_ref: ProviderConfigRef {
                name: DEFAULT_PROVIDER_CONFIG.into(),
                kind: "ClusterProviderConfig".into(),
            },
            nats_url: DEFAULT_NATS_URL.into(),
            nats_monitoring_endpoint: DEFAULT_MONITORING_ENDPOINT.into(),
            nats_account: DEFAULT_NATS_ACCOUNT.into(),
            nats_account_id: None,
            sizes: SizeTable::default(),
            ttl: None,
        }
    }
}

/// API version of the function Input.
pub const INPUT_API_VERSION: &str = "eventdrivenservice.fn.bizmatters.io/v1beta1";
/// Kind of the function Input.
pub const INPUT_KIND: &str = "Input";

const INPUT_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "providerConfigRef",
    "output",
    "nats",
    "sizes",
    "ttl",
];
const PROVIDER_CONFIG_KINDS: [&str; 2] = ["ProviderConfig", "ClusterProviderConfig"];
const OUTPUTS: [&str; 2] = ["Objects", "Direct"];
const SIZE_FIELDS: &[&str] = &["cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"];

impl Settings {
    /// Reads the function Input (absent means every default); every mistake names its field
    /// as `input.<path>`.
    pub fn from_input(input: Option<&Value>) -> Result<Self, Vec<FieldError>> {
        let mut settings = Self::default();
        let Some(input) = input else {
            return Ok(settings);
        };
        let mut errors = Errors::default();
        let Some(obj) = object(input, "input", INPUT_FIELDS, &mut errors) else {
            return errors.finish(|| settings);
        };
        match (
            obj.string("apiVersion", &mut errors),
            obj.string("kind", &mut errors),
        ) {
            (Some(INPUT_API_VERSION), Some(INPUT_KIND)) => {}
            (api_version, kind) => errors.push(
                "input",
                format!(
                    "must be apiVersion {INPUT_API_VERSION}, kind {INPUT_KIND} (got {}, {})",
                    api_version.unwrap_or("no apiVersion"),
                    kind.unwrap_or("no kind")
                ),
            ),
        }
        if let Some(pc) = obj.get("providerConfigRef") {
            if let Some(pc) = object(
                pc,
                &obj.path_of("providerConfigRef"),
                &["name", "kind"],
                &mut errors,
            ) {
                if let Some(name) = pc.string("name", &mut errors) {
                    settings.provider_config_ref.name = name.to_string();
                }
                if let Some(kind) = pc.string("kind", &mut errors) {
                    one_of(
                        kind,
                        &PROVIDER_CONFIG_KINDS,
                        &pc.path_of("kind"),
                        &mut errors,
                    );
                    settings.provider_config_ref.kind = kind.to_string();
                }
            }
        }
        if let Some(output) = obj.string("output", &mut errors) {
            if one_of(output, &OUTPUTS, &obj.path_of("output"), &mut errors) {
                settings.output = if output == "Direct" {
                    Output::Direct
                } else {
                    Output::Objects
                };
            }
        }
        if let Some(nats) = obj.get("nats") {
            let fields = ["url", "monitoringEndpoint", "account", "accountID"];
            if let Some(nats) = object(nats, &obj.path_of("nats"), &fields, &mut errors) {
                if let Some(url) = nats.string("url", &mut errors) {
                    rules::check_nats_url(url, &nats.path_of("url"), &mut errors);
                    settings.nats_url = url.to_string();
                }
                if let Some(endpoint) = nats.string("monitoringEndpoint", &mut errors) {
                    rules::check_monitoring_endpoint(
                        endpoint,
                        &nats.path_of("monitoringEndpoint"),
                        &mut errors,
                    );
                    settings.nats_monitoring_endpoint = endpoint.to_string();
                }
                if let Some(account) = nats.string("account", &mut errors) {
                    settings.nats_account = account.to_string();
                }
                if let Some(id) = nats.string("accountID", &mut errors) {
                    settings.nats_account_id = Some(id.to_string());
                }
            }
        }
        if let Some(sizes) = obj.get("sizes") {
            if let Some(sizes) = object(
                sizes,
                &obj.path_of("sizes"),
                &["small", "medium", "large"],
                &mut errors,
            ) {
                for (key, row) in [
                    ("small", &mut settings.sizes.small),
                    ("medium", &mut settings.sizes.medium),
                    ("large", &mut settings.sizes.large),
                ] {
                    if let Some(value) = sizes.get(key) {
                        if let Some(read) = read_size(value, &sizes.path_of(key), &mut errors) {
                            *row = read;
                        }
                    }
                }
            }
        }
        if let Some(ttl) = obj.string("ttl", &mut errors) {
            match parse_duration(ttl) {
                Ok(ttl) => settings.ttl = Some(ttl),
                Err(_) => errors.push(
                    obj.path_of("ttl"),
                    format!("must be a duration like 60s, 5m or 1h (got {ttl:?})"),
                ),
            }
        }
        errors.finish(|| settings)
    }
}

fn one_of(value: &str, allowed: &[&str], path: &str, errors: &mut Errors) -> bool {
    let ok = allowed.contains(&value);
    if !ok {
        errors.push(
            path,
            format!("must be one of {} (got {value:?})", allowed.join(", ")),
        );
    }
    ok
}

/// One row of the size table; all four quantities are required and requests may not exceed limits.
fn read_size(value: &Value, path: &str, errors: &mut Errors) -> Option<Resources> {
    let row = object(value, path, SIZE_FIELDS, errors)?;
    let mut quantity = |key: &str| {
        let q = row.required_string(key, errors)?;
        match quantity_value(q) {
            Some(v) => Some((q.to_string(), v)),
            None => {
                errors.push(
                    row.path_of(key),
                    format!("must be a Kubernetes quantity like 500m, 2, 512Mi or 4Gi (got {q:?})"),
                );
                None
            }
        }
    };
    let cpu_request = quantity("cpuRequest");
    let cpu_limit = quantity("cpuLimit");
    let memory_request = quantity("memoryRequest");
    let memory_limit = quantity("memoryLimit");
    let (cpu_request, cpu_limit, memory_request, memory_limit) =
        (cpu_request?, cpu_limit?, memory_request?, memory_limit?);
    for (request, limit, req_key, lim_key) in [
        (&cpu_request, &cpu_limit, "cpuRequest", "cpuLimit"),
        (
            &memory_request,
            &memory_limit,
            "memoryRequest",
            "memoryLimit",
        ),
    ] {
        if request.1 > limit.1 {
            errors.push(
                row.path_of(req_key),
                format!(
                    "must not exceed {} ({} > {})",
                    row.path_of(lim_key),
                    request.0,
                    limit.0
                ),
            );
        }
    }
    Some(Resources {
        cpu_request: cpu_request.0,
        cpu_limit: cpu_limit.0,
        memory_request: memory_request.0,
        memory_limit: memory_limit.0,
    })
}

/// The magnitude of a non-negative Kubernetes quantity, for comparing requests with limits.
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
    let digits_ok = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().filter(|c| *c == '.').count() <= 1
        && number != ".";
    digits_ok
        .then(|| number.parse::<f64>().ok())
        .flatten()
        .map(|n| n * factor)
}

/// Parses `90`, `90s`, `5m` or `1h` into a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 60s, 5m or 1h"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    };
    secs.map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is not a duration like 60s, 5m or 1h"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_input_means_the_documented_defaults() {
        assert_eq!(Settings::from_input(None), Ok(Settings::default()));
    }

    #[test]
    fn a_full_input_overrides_every_setting() {
        let input = json!({
            "apiVersion": INPUT_API_VERSION, "kind": "Input",
            "providerConfigRef": {"name": "in-cluster", "kind": "ProviderConfig"},
            "output": "Direct",
            "nats": {"url": "tls://nats.prod:4222", "monitoringEndpoint": "nats-mon.prod:8222", "account": "APP", "accountID": "ACCT"},
            "sizes": {"small": {"cpuRequest": "100m", "cpuLimit": "1", "memoryRequest": "256Mi", "memoryLimit": "1Gi"}},
            "ttl": "5m",
        });
        let got = Settings::from_input(Some(&input)).unwrap();
        let defaults = SizeTable::default();
        let want = Settings {
            provider_config_ref: ProviderConfigRef {
                name: "in-cluster".into(),
                kind: "ProviderConfig".into(),
            },
            output: Output::Direct,
            nats_url: "tls://nats.prod:4222".into(),
            nats_monitoring_endpoint: "nats-mon.prod:8222".into(),
            nats_account: "APP".into(),
            nats_account_id: Some("ACCT".into()),
            sizes: SizeTable {
                small: preset("100m", "1", "256Mi", "1Gi"),
                ..defaults
            },
            ttl: Some(Duration::from_secs(300)),
        };
        assert_eq!(got, want);
    }

    #[test]
    fn every_input_mistake_is_named() {
        let input = json!({
            "apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources",
            "output": "Both", "ttl": "soon", "extra": 1,
            "providerConfigRef": {"kind": "Cluster"},
            "nats": {"url": "http://nats:4222", "monitoringEndpoint": "http://nats:8222"},
            "sizes": {"small": {"cpuRequest": "2", "cpuLimit": "1", "memoryRequest": "lots", "memoryLimit": "1Gi"}, "huge": {}},
        });
        let got: Vec<String> = Settings::from_input(Some(&input))
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "input.extra: unknown field; expected one of: apiVersion, kind, metadata, providerConfigRef, output, nats, sizes, ttl",
                "input: must be apiVersion eventdrivenservice.fn.bizmatters.io/v1beta1, kind Input (got pt.fn.crossplane.io/v1beta1, Resources)",
                "input.providerConfigRef.kind: must be one of ProviderConfig, ClusterProviderConfig (got \"Cluster\")",
                "input.output: must be one of Objects, Direct (got \"Both\")",
                "input.nats.url: must be a NATS URL like nats://nats.nats.svc:4222 (schemes nats, tls, ws, wss; got \"http://nats:4222\")",
                "input.nats.monitoringEndpoint: must be host:port of the NATS monitoring port without a scheme, like nats-headless.nats.svc.cluster.local:8222 (got \"http://nats:8222\")",
                "input.sizes.huge: unknown field; expected one of: small, medium, large",
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
        assert_eq!(quantity_value("-1"), None);
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
