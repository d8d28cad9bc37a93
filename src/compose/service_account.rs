//! The ServiceAccount: the worker's own identity, with no API token mounted.

use super::Labels;
use crate::api::{placement::Placement, spec::Spec};
use k8s_openapi::api::core::v1::ServiceAccount;

/// Builds the ServiceAccount.
pub fn build(spec: &Spec, placement: &Placement, labels: &Labels) -> ServiceAccount {
    let mut metadata = super::metadata(&placement.name, placement, labels);
    // Workload identity (EKS, GKE, Azure) is declared here.
    metadata.annotations = super::pod::non_empty_map(&spec.service_account.annotations);
    ServiceAccount {
        metadata,
        // Workers talk to NATS, not to the Kubernetes API.
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}
