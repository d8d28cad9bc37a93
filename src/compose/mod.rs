//! The four composed resources of an EventDrivenService, one module per kind.
//!
//! The resource keys are a public contract: Crossplane names composed resources by them, so
//! renaming one deletes and recreates that resource in every cluster.

use crate::{placement::Placement, settings::Settings, spec::Spec};
use serde_json::Value;

/// Key of the ServiceAccount.
pub const SERVICE_ACCOUNT: &str = "serviceaccount";
/// Key of the Deployment.
pub const DEPLOYMENT: &str = "deployment";
/// Key of the Service.
pub const SERVICE: &str = "service";
/// Key of the KEDA ScaledObject.
pub const SCALED_OBJECT: &str = "scaledobject";
/// Every key this function owns, in the order they are composed.
pub const KEYS: [&str; 4] = [SERVICE_ACCOUNT, DEPLOYMENT, SERVICE, SCALED_OBJECT];

/// Composes the four desired resources, keyed by their composition resource name.
pub fn compose(
    _spec: &Spec,
    _settings: &Settings,
    _placement: &Placement,
) -> Vec<(&'static str, Value)> {
    Vec::new()
}
