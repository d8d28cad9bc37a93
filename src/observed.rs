//! Observed state → readiness of our resources, the XR's status, its conditions, and events on
//! transitions.
//!
//! Crossplane sends the composed resources it observed; with provider-kubernetes they are
//! Objects whose `status.atProvider.manifest` is the live object, with direct output they are
//! the live objects themselves. Either way the same facts are read from the same places.

use crate::{
    api::input::Output,
    api::placement::Placement,
    compose::{
        CONFIG_HASH, CONSUMER, DEPLOYMENT, KEYS, POD_DISRUPTION_BUDGET, SCALED_OBJECT, SERVICE,
        SERVICE_ACCOUNT,
    },
    document::tree::{ObjectParts, Tree},
    proto::v1::{Condition, Ready, Resource, Result as PbResult, Severity, Status, Target},
};
use prost_types::Value as PbValue;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Condition type mirroring the Deployment's `Available`.
pub const DEPLOYMENT_AVAILABLE: &str = "DeploymentAvailable";
/// Condition type mirroring the ScaledObject's `Ready`.
pub const SCALER_READY: &str = "ScalerReady";
/// Condition type mirroring the NACK Consumer's `Ready`.
pub const CONSUMER_READY: &str = "ConsumerReady";
/// Condition type saying whether the spec and the function Input can be composed.
pub const SPEC_VALID: &str = "SpecValid";
/// Reason of `SpecValid=False`, and of the Fatal result that goes with it.
pub const REASON_INVALID: &str = "InvalidSpec";

/// What the function reports about observed state.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    /// Readiness per resource key, for the keys that were observed.
    pub ready: BTreeMap<&'static str, Ready>,
    /// Fields of the XR's desired status.
    pub status: Map<String, Value>,
    /// Conditions on the XR and claim.
    pub conditions: Vec<Condition>,
    /// Events, only for conditions that changed.
    pub events: Vec<PbResult>,
}

/// A condition as Kubernetes objects carry it.
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    status: Status,
    reason: String,
    message: String,
}

/// Reads the observed resources and the status of the observed XR into a report; `port` is
/// the Service's, `None` without a Service (and then no endpoint); `consumer` whether the
/// claim declares its durable consumer (and then reports on it).
pub fn report<N: Tree>(
    observed: &BTreeMap<&str, ObjectParts<'_, N>>,
    xr_status: Option<&N>,
    output: Output,
    placement: &Placement,
    port: Option<i32>,
    consumer: bool,
) -> Report {
    let mut report = Report::default();
    for key in KEYS {
        if let Some(resource) = observed.get(key) {
            report.ready.insert(key, readiness(key, resource, output));
        }
    }
    let live = |key: &str| observed.get(key).and_then(|r| live_object(r, output));

    if let Some(port) = port {
        report.status.insert(
            "endpoint".into(),
            Value::String(format!(
                "{}.{}.svc.cluster.local:{port}",
                placement.name, placement.namespace
            )),
        );
    }
    let deployment = live(DEPLOYMENT);
    if let Some(live) = deployment.filter(|d| d.status.is_some()) {
        for field in ["replicas", "readyReplicas", "availableReplicas"] {
            report
                .status
                .insert(field.into(), json!(count(live.status, field)));
        }
        // What KEDA asks for, beside what runs: scaling in progress shows here, not as
        // unreadiness.
        report
            .status
            .insert("desiredReplicas".into(), json!(desired_replicas(&live)));
    }
    let scaler = live(SCALED_OBJECT);
    if let Some(scaler) = scaler {
        let flag = |t: &str| is_true(scaler.status, t);
        let message = condition(scaler.status, "Ready")
            .map(|c| c.message)
            .unwrap_or_default();
        report.status.insert(
            "scaler".into(),
            json!({
                "ready": flag("Ready"),
                "active": flag("Active"),
                "paused": flag("Paused"),
                "fallback": flag("Fallback"),
                "message": message,
            }),
        );
    }

    let previous = |t: &str| condition_status(xr_status, t);
    let mut sources = vec![
        (DEPLOYMENT_AVAILABLE, deployment, "Available", "Deployment"),
        (SCALER_READY, scaler, "Ready", "ScaledObject"),
    ];
    if consumer {
        sources.push((CONSUMER_READY, live(CONSUMER), "Ready", "Consumer"));
    }
    for (kind, source, source_type, what) in sources {
        let now = match source {
            Some(object) => condition(object.status, source_type).unwrap_or(Observed {
                status: Status::ConditionUnknown,
                reason: "Pending".into(),
                message: format!("the {what} reports no {source_type} condition yet"),
            }),
            None => Observed {
                status: Status::ConditionUnknown,
                reason: "Creating".into(),
                message: format!("the {what} has not been observed yet"),
            },
        };
        if let Some(event) = transition(kind, what, previous(kind), &now) {
            report.events.push(event);
        }
        report.conditions.push(Condition {
            r#type: kind.into(),
            status: now.status.into(),
            reason: now.reason,
            message: Some(now.message),
            target: Some(Target::CompositeAndClaim.into()),
        });
    }
    report
}

/// `SpecValid=False` listing every mistake while the spec cannot be composed, so the claim
/// shows them too: Crossplane writes a Fatal result only on the XR, but copies a failing
/// step's conditions to the claim. Once the spec composes again, `SpecValid=True`, reported
/// only while the XR still carries the condition: a spec that was always valid shows none.
pub fn spec_validity<N: Tree>(
    xr_status: Option<&N>,
    mistakes: Option<String>,
) -> Option<Condition> {
    situation(
        xr_status,
        SPEC_VALID,
        mistakes.map(|message| (Status::ConditionFalse, REASON_INVALID, message)),
        (
            Status::ConditionTrue,
            "Valid",
            "the spec and the function Input can be composed",
        ),
    )
}

/// The condition `kind` of a situation: `now` (status, reason, message) while it lasts;
/// once it is over, `over`, but only while the XR still shows the condition, so a situation
/// that never arose shows nothing. Nothing is remembered between calls: the observed XR's
/// conditions are the memory.
pub(crate) fn situation<N: Tree>(
    xr_status: Option<&N>,
    kind: &str,
    now: Option<(Status, &str, String)>,
    over: (Status, &str, &str),
) -> Option<Condition> {
    let (status, reason, message) = match now {
        Some(now) => now,
        None if find_condition(xr_status, kind).is_some() => (over.0, over.1, over.2.to_string()),
        None => return None,
    };
    Some(Condition {
        r#type: kind.into(),
        status: status.into(),
        reason: reason.into(),
        message: Some(message),
        target: Some(Target::CompositeAndClaim.into()),
    })
}

/// An event when a condition turns False, or turns True again after being False.
fn transition(
    kind: &str,
    what: &str,
    previous: Option<Status>,
    now: &Observed,
) -> Option<PbResult> {
    let (severity, reason, verb) = match (previous, now.status) {
        (Some(Status::ConditionFalse), Status::ConditionFalse)
        | (_, Status::ConditionUnknown | Status::ConditionUnspecified) => return None,
        (_, Status::ConditionFalse) => (Severity::Warning, format!("{kind}False"), "is not ready"),
        (Some(Status::ConditionFalse), Status::ConditionTrue) => {
            (Severity::Normal, format!("{kind}True"), "recovered")
        }
        (_, Status::ConditionTrue) => return None,
    };
    let detail = if now.message.is_empty() {
        now.reason.clone()
    } else {
        format!("{}: {}", now.reason, now.message)
    };
    Some(PbResult {
        severity: severity.into(),
        message: format!("{what} {verb} ({detail})"),
        reason: Some(reason),
        target: Some(Target::CompositeAndClaim.into()),
    })
}

/// Whether one observed resource is ready, decided per kind.
fn readiness<N: Tree>(key: &str, resource: &ObjectParts<'_, N>, output: Output) -> Ready {
    let ready = match output {
        // The readiness policy on each Object makes its Ready condition mean what it says.
        Output::Objects => is_true(resource.status, "Ready"),
        Output::Direct => match key {
            DEPLOYMENT => deployment_ready(resource),
            SCALED_OBJECT => is_true(resource.status, "Ready"),
            CONSUMER => consumer_ready(resource),
            // Nothing to wait for once they exist.
            SERVICE | SERVICE_ACCOUNT | POD_DISRUPTION_BUDGET => true,
            _ => false,
        },
    };
    if ready {
        Ready::True
    } else {
        Ready::False
    }
}

/// The rollout is complete and the worker serves: Available, the latest spec observed, every
/// desired replica on the current template, and at least one available unless none is
/// wanted. The desired count is KEDA's, read from the live object; replicas still starting
/// after a scale-out do not make the worker unready.
fn deployment_ready<N: Tree>(deployment: &ObjectParts<'_, N>) -> bool {
    let desired = desired_replicas(deployment);
    is_true(deployment.status, "Available")
        && generation_observed(deployment)
        && count(deployment.status, "updatedReplicas") >= desired
        && (desired == 0 || count(deployment.status, "availableReplicas") >= 1)
}

/// NACK reports the consumer created or updated, for the latest spec.
fn consumer_ready<N: Tree>(consumer: &ObjectParts<'_, N>) -> bool {
    is_true(consumer.status, "Ready") && generation_observed(consumer)
}

/// Whether the controller has seen the object's latest spec.
fn generation_observed<N: Tree>(object: &ObjectParts<'_, N>) -> bool {
    let generation = object
        .metadata
        .and_then(|m| m.get("generation"))
        .and_then(Tree::as_i64);
    let observed = object
        .status
        .and_then(|s| s.get("observedGeneration"))
        .and_then(Tree::as_i64);
    match (generation, observed) {
        (Some(generation), Some(observed)) => observed >= generation,
        // An object without a generation (not yet stored) has nothing to wait for.
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// A replica count in a status, 0 when unset (Kubernetes omits zeros).
fn count<N: Tree>(status: Option<&N>, field: &str) -> i64 {
    status
        .and_then(|s| s.get(field))
        .and_then(Tree::as_i64)
        .unwrap_or(0)
}

/// The replicas a Deployment wants: its `spec.replicas`, which Kubernetes defaults to 1.
fn desired_replicas<N: Tree>(deployment: &ObjectParts<'_, N>) -> i64 {
    deployment
        .spec
        .and_then(|spec| spec.get("replicas"))
        .and_then(Tree::as_i64)
        .unwrap_or(1)
}

/// The replicas the live Deployment wants, as KEDA last set them; `None` before it exists.
pub fn current_replicas<N: Tree>(
    observed: &BTreeMap<&str, ObjectParts<'_, N>>,
    output: Output,
) -> Option<i64> {
    let live = live_object(observed.get(DEPLOYMENT)?, output)?;
    live.spec.is_some().then(|| desired_replicas(&live))
}

/// The config hash the live Deployment's pods carry, kept while the current one cannot be
/// computed so that pods restart only when the data really changed.
pub fn config_hash<'a, N: Tree>(
    observed: &BTreeMap<&str, ObjectParts<'a, N>>,
    output: Output,
) -> Option<&'a str> {
    live_object(observed.get(DEPLOYMENT)?, output)?
        .spec?
        .get("template")?
        .get("metadata")?
        .get("annotations")?
        .get(CONFIG_HASH)?
        .as_str()
}

/// The live object behind an observed resource.
fn live_object<'a, N: Tree>(
    resource: &ObjectParts<'a, N>,
    output: Output,
) -> Option<ObjectParts<'a, N>> {
    match output {
        Output::Objects => resource
            .status?
            .get("atProvider")?
            .get("manifest")
            .map(ObjectParts::of),
        Output::Direct => Some(*resource),
    }
}

fn is_true<N: Tree>(status: Option<&N>, kind: &str) -> bool {
    condition_status(status, kind) == Some(Status::ConditionTrue)
}

/// The condition `kind` in an object's `status.conditions`, as it is stored.
pub(crate) fn find_condition<'a, N: Tree>(status: Option<&'a N>, kind: &str) -> Option<&'a N> {
    status?
        .get("conditions")?
        .as_list()?
        .iter()
        .find(|c| c.get("type").and_then(Tree::as_str) == Some(kind))
}

/// The status of the condition `kind`, without copying its reason and message.
pub(crate) fn condition_status<N: Tree>(status: Option<&N>, kind: &str) -> Option<Status> {
    find_condition(status, kind).map(|found| parse_status(found.get("status")))
}

fn parse_status<N: Tree>(status: Option<&N>) -> Status {
    match status.and_then(Tree::as_str) {
        Some("True") => Status::ConditionTrue,
        Some("False") => Status::ConditionFalse,
        _ => Status::ConditionUnknown,
    }
}

/// The condition `kind` in an object's `status.conditions`.
fn condition<N: Tree>(status: Option<&N>, kind: &str) -> Option<Observed> {
    let found = find_condition(status, kind)?;
    let text = |k| {
        found
            .get(k)
            .and_then(Tree::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(Observed {
        status: parse_status(found.get("status")),
        reason: text("reason"),
        message: text("message"),
    })
}

/// Our observed composed resources by key, read where the request holds them.
pub fn observed_resources(
    resources: &BTreeMap<String, Resource>,
) -> BTreeMap<&str, ObjectParts<'_, PbValue>> {
    resources
        .iter()
        .filter(|(key, _)| KEYS.contains(&key.as_str()))
        .filter_map(|(key, r)| {
            r.resource
                .as_ref()
                .map(|s| (key.as_str(), ObjectParts::of_struct(s)))
        })
        .collect()
}
