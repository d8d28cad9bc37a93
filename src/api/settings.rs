//! Reading the function Input into [`Settings`]: its structure against the schema generated
//! from the types, then the rules that span its fields.

use crate::api::{
    definition,
    field_error::FieldError,
    input::{Settings, SizeTable},
    pod_rules,
    structure::{self, Structure},
};
use serde_json::Value;
use std::sync::LazyLock;

/// The Input's schema, compiled once.
static INPUT: LazyLock<Structure> =
    LazyLock::new(|| Structure::new(definition::input_json_schema()));

impl Settings {
    /// Reads the function Input (absent means every default); every mistake names its field
    /// as `input.<path>`.
    pub fn from_input(input: Option<&Value>) -> Result<Self, Vec<FieldError>> {
        let Some(input) = input else {
            return Ok(Self::default());
        };
        let mut document = input.clone();
        if let Value::Object(fields) = &mut document {
            structure::prune_nulls(fields);
        }
        let read = structure::read(&INPUT, &document, "input", |settings: &Settings| {
            let mut errors = requests_within_limits(&settings.sizes);
            errors.extend(pod_rules::defaults_problems(&settings.defaults));
            errors
        });
        structure::also(read, identity_problem(&document))
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

/// A size's requests may not exceed its limits.
fn requests_within_limits(sizes: &SizeTable) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (size, row) in [
        ("small", &sizes.small),
        ("medium", &sizes.medium),
        ("large", &sizes.large),
    ] {
        for (request, limit, r, l) in [
            ("cpuRequest", "cpuLimit", &row.cpu_request, &row.cpu_limit),
            (
                "memoryRequest",
                "memoryLimit",
                &row.memory_request,
                &row.memory_limit,
            ),
        ] {
            let path = |key| format!("input.sizes.{size}.{key}");
            if let (Some(rv), Some(lv)) = (quantity_value(r), quantity_value(l)) {
                if rv > lv {
                    errors.push(FieldError::new(
                        path(request),
                        format!("must not exceed {} ({r} > {l})", path(limit)),
                    ));
                }
            }
        }
    }
    errors
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        input::{
            NatsDefaults, Output, ProviderConfigRef, Resources, SchedulingDefaults, WorkerDefaults,
        },
        spec::{DisruptionBudget, Shutdown, Spread},
    };
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use serde_json::json;
    use std::time::Duration;

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
    fn an_empty_input_is_the_built_in_settings() {
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
}
