//! Warnings no one else gives: claims that compose and run, but misbehave in ways KEDA, NATS
//! and Kubernetes each see only half of. Each is a condition on the XR and claim while the
//! situation lasts, and one Warning event when it begins, told apart from steady reconciles by
//! the observed XR's conditions: nothing is remembered between calls.

use crate::{
    api::{grace_period_seconds, input::Settings, spec::Spec},
    document::tree::Tree,
    observed::{condition_status, situation},
    proto::v1::{Condition, Result as PbResult, Severity, Status, Target},
};
use std::time::Duration;

/// KEDA counts unacknowledged messages as lag, and the threshold is below what pods hold.
pub const LAG_BELOW_ACK_PENDING: &str = "LagBelowAckPending";
/// Pods stopped at scale-in get less time than the consumer's ack wait.
pub const GRACE_BELOW_ACK_WAIT: &str = "GraceBelowAckWait";
/// Scaling from zero with a consumer nobody declared.
pub const CONSUMER_NOT_DECLARED: &str = "ConsumerNotDeclared";
/// A Secret or ConfigMap a rollout follows does not exist.
pub const CONFIG_MISSING: &str = "ConfigMissing";
/// CPU or memory triggers on a worker that may sleep at zero, where only the lag wakes it.
pub const RESOURCE_TRIGGERS_AT_ZERO: &str = "ResourceTriggersAtZero";
/// KEDA is held until the declared durable consumer is Ready (the scale-up storm guard).
pub const SCALING_HELD: &str = "ScalingHeld";

/// One situation: its condition type, the reason while it lasts, its message when it does,
/// and how its event is told.
struct Situation {
    kind: &'static str,
    reason: &'static str,
    now: Option<String>,
    severity: Severity,
}

/// The conditions and events of every situation; `missing` names the referenced objects
/// Crossplane found absent, `hold` the replicas KEDA is held at while the consumer is not Ready.
pub fn advise<N: Tree>(
    spec: &Spec,
    settings: &Settings,
    missing: &[String],
    hold: Option<i64>,
    xr_status: Option<&N>,
) -> (Vec<Condition>, Vec<PbResult>) {
    let situations = [
        Situation {
            kind: LAG_BELOW_ACK_PENDING,
            reason: "InFlightCountsAsLag",
            now: lag_below_ack_pending(spec),
            severity: Severity::Warning,
        },
        Situation {
            kind: GRACE_BELOW_ACK_WAIT,
            reason: "ShutdownBeforeAckWait",
            now: grace_below_ack_wait(spec, settings),
            severity: Severity::Warning,
        },
        Situation {
            kind: CONSUMER_NOT_DECLARED,
            reason: "ScaleFromZeroWithoutConsumer",
            now: consumer_not_declared(spec),
            severity: Severity::Warning,
        },
        Situation {
            kind: CONFIG_MISSING,
            reason: "NotFound",
            now: (!missing.is_empty()).then(|| {
                format!(
                    "rolloutOnConfigChange follows objects that do not exist: {}; the pods keep \
                     their config hash until they do, and cannot start while they read them",
                    missing.join(", ")
                )
            }),
            severity: Severity::Warning,
        },
        Situation {
            kind: RESOURCE_TRIGGERS_AT_ZERO,
            reason: "OnlyLagWakes",
            now: resource_triggers_at_zero(spec),
            // Told once, so that nobody waits for CPU to wake a worker at zero.
            severity: Severity::Normal,
        },
        Situation {
            kind: SCALING_HELD,
            reason: "ConsumerNotReady",
            now: hold.map(|replicas| scaling_held(spec, replicas)),
            // Every new worker passes through it until NACK has created its consumer.
            severity: Severity::Normal,
        },
    ];
    let mut conditions = Vec::new();
    let mut events = Vec::new();
    for Situation {
        kind,
        reason,
        now,
        severity,
    } in situations
    {
        // One Warning when the situation begins, none while it lasts.
        let begins = || condition_status(xr_status, kind) != Some(Status::ConditionTrue);
        if let Some(message) = now.as_ref().filter(|_| begins()) {
            events.push(PbResult {
                severity: severity.into(),
                message: message.clone(),
                reason: Some(kind.to_string()),
                target: Some(Target::CompositeAndClaim.into()),
            });
        }
        conditions.extend(situation(
            xr_status,
            kind,
            now.map(|message| (Status::ConditionTrue, reason, message)),
            (Status::ConditionFalse, "Resolved", "no longer the case"),
        ));
    }
    (conditions, events)
}

fn lag_below_ack_pending(spec: &Spec) -> Option<String> {
    let consumer = spec.nats.durable_consumer.as_ref()?;
    let what = match consumer.max_ack_pending {
        Some(_) => "nats.durableConsumer.maxAckPending",
        None => "NATS' default maxAckPending (nats.durableConsumer.maxAckPending is unset)",
    };
    lag_threshold_advice(
        spec.scaling.lag_threshold,
        consumer.effective_max_ack_pending(),
        what,
    )
}

/// Advice when `threshold`, the lag per replica KEDA aims for, is below `pending`, how many
/// messages the consumer lets workers hold unacknowledged; `what` says where `pending` comes
/// from (the claim, NATS' default, or the server's consumer).
pub fn lag_threshold_advice(threshold: i64, pending: i64, what: &str) -> Option<String> {
    (threshold < pending).then(|| {
        format!(
            "spec.scaling.lagThreshold ({threshold}) is below {what} ({pending}): KEDA counts \
             delivered but unacknowledged messages as lag, so the messages busy workers hold keep \
             scaling them out towards maxReplicas; raise lagThreshold to at least {pending} or \
             lower maxAckPending"
        )
    })
}

fn grace_below_ack_wait(spec: &Spec, settings: &Settings) -> Option<String> {
    let consumer = spec.nats.durable_consumer.as_ref()?;
    let wait = consumer.effective_ack_wait()?;
    let which = match consumer.backoff.first() {
        Some(first) => format!("{first}, backoff[0], which NATS uses in place of ackWait"),
        None => consumer.ack_wait.clone(),
    };
    grace_advice(grace_period_seconds(spec, settings), wait, &which)
}

/// Advice when `grace` seconds, the time a pod has to stop, is shorter than `wait`, the
/// consumer's ack wait, spelt `which` in the message.
pub fn grace_advice(grace: i64, wait: Duration, which: &str) -> Option<String> {
    if Duration::from_secs(u64::try_from(grace).unwrap_or_default()) >= wait {
        return None;
    }
    Some(format!(
        "the grace period ({grace}s) is shorter than the consumer's ack wait ({which}): messages \
         in flight on a pod stopped at scale-in are redelivered only once the ack wait is \
         over; raise spec.shutdown.gracePeriodSeconds or shorten the ack wait"
    ))
}

fn consumer_not_declared(spec: &Spec) -> Option<String> {
    (spec.scaling.min_replicas == 0 && spec.nats.durable_consumer.is_none()).then(|| {
        format!(
            "spec.scaling.minReplicas is 0 and nats.durableConsumer is unset: KEDA reads the \
             lag of consumer {:?} before any pod runs, so it must exist before the first pod \
             starts or the worker never scales up (KEDA 2.18 even reads a missing consumer's lag \
             as the stream's last sequence); declare it with nats.durableConsumer, or keep \
             minReplicas at 1 or more",
            spec.nats.consumer
        )
    })
}

fn scaling_held(spec: &Spec, replicas: i64) -> String {
    format!(
        "KEDA is held at {replicas} replica{} until the durable consumer {:?} is Ready: KEDA \
         reads a consumer that does not exist yet as the stream's whole backlog and would scale \
         the worker to maxReplicas ({}); scaling resumes on its own once NACK reports the \
         consumer Ready",
        if replicas == 1 { "" } else { "s" },
        spec.nats.consumer,
        spec.scaling.max_replicas
    )
}

fn resource_triggers_at_zero(spec: &Spec) -> Option<String> {
    let scaling = &spec.scaling;
    let fields: Vec<&str> = [
        scaling.cpu_utilization.map(|_| "cpuUtilization"),
        scaling.memory_utilization.map(|_| "memoryUtilization"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (scaling.min_replicas == 0 && !fields.is_empty()).then(|| {
        format!(
            "spec.scaling.{} with minReplicas 0: at zero replicas there is no CPU or memory to \
             measure, so only the consumer's lag wakes the worker; once it runs, KEDA scales on \
             whichever trigger asks for more replicas",
            fields.join(" and spec.scaling.")
        )
    })
}
