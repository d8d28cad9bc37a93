//! The ServiceAccount: the worker's own identity, with no API token mounted.

use super::Labels;
use crate::api::placement::Placement;
use k8s_openapi::api::core::v1::ServiceAccount;

/// Builds the ServiceAccount.
pub fn build(placement: &Placement, labels: &Labels) -> ServiceAccount {
    ServiceAccount {
        metadata: super::metadata(&placement.name, placement, labels),
        // Workers talk to NATS, not to the Kubernetes API.
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}
