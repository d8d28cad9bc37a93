//! The optional PodDisruptionBudget: how many worker pods a node drain may take down at once.

use super::Labels;
use crate::api::{
    input::Settings,
    placement::Placement,
    spec::{DisruptionBudget, Spec},
};
use k8s_openapi::{
    api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec},
    apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
};

/// The budget that applies: the claim's, or the platform's; `None` when neither asks for one
/// or the claim turns it off.
pub fn wanted<'a>(spec: &'a Spec, settings: &'a Settings) -> Option<&'a DisruptionBudget> {
    spec.disruption_budget
        .as_ref()
        .or(settings.defaults.disruption_budget.as_ref())
        .filter(|budget| budget.enabled != Some(false))
}

/// Builds the PodDisruptionBudget: the given count, or at most one pod down at a time.
pub fn build(
    budget: &DisruptionBudget,
    placement: &Placement,
    labels: &Labels,
) -> PodDisruptionBudget {
    let max_unavailable = match (&budget.max_unavailable, &budget.min_available) {
        (None, None) => Some(IntOrString::Int(1)),
        (max, _) => max.clone(),
    };
    PodDisruptionBudget {
        metadata: super::metadata(&placement.name, placement, labels),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector {
                match_labels: Some(labels.selector()),
                ..LabelSelector::default()
            }),
            max_unavailable,
            min_available: budget.min_available.clone(),
            // A crash-looping worker must not block a node drain.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
        }),
        ..PodDisruptionBudget::default()
    }
}
