//! The rules of the scaling and consumer fields that their schema cannot state: replica counts
//! against each other, durations NATS would refuse or misread, and filter subjects that
//! overlap. Plain functions over the typed spec.

use crate::api::{
    field_error::FieldError,
    go_duration,
    spec::{DurableConsumer, Scaling, Spec},
};
use std::time::Duration;

/// Every broken rule of the scaling and consumer fields of `spec`.
pub fn check(spec: &Spec) -> Vec<FieldError> {
    let mut errors = replicas(&spec.scaling);
    if let Some(consumer) = &spec.nats.durable_consumer {
        errors.extend(durable_consumer(consumer));
    }
    errors
}

/// `minReplicas <= maxReplicas`, and the fallback and paused counts between them.
fn replicas(scaling: &Scaling) -> Vec<FieldError> {
    let (min, max) = (scaling.min_replicas, scaling.max_replicas);
    if min > max {
        return vec![FieldError::new(
            "spec.scaling.minReplicas",
            format!("must not exceed spec.scaling.maxReplicas ({min} > {max})"),
        )];
    }
    let idle = scaling
        .idle_replicas
        .filter(|idle| *idle >= min)
        .map(|idle| {
            FieldError::new(
                "spec.scaling.idleReplicas",
                format!(
                "must be below spec.scaling.minReplicas ({idle} >= {min}): KEDA would never scale \
                 the worker below minReplicas; raise minReplicas or remove idleReplicas"
            ),
            )
        });
    let within = |path: &str, count: Option<i32>, why: &str| {
        let n = count?;
        (n < min || n > max).then(|| {
            FieldError::new(
                path,
                format!("must be within minReplicas..maxReplicas ({min}..{max}, got {n}): {why}"),
            )
        })
    };
    [
        idle,
        within(
            "spec.scaling.fallback.replicas",
            scaling.fallback.as_ref().map(|f| f.replicas),
            "the HorizontalPodAutoscaler keeps the count within them, so the fallback would not be what it says",
        ),
        within(
            "spec.scaling.pausedReplicas",
            scaling.paused_replicas,
            "KEDA would hold the worker outside the bounds the claim sets",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Durations NATS would refuse or read otherwise than meant, the backoff against
/// `maxDeliver`, and overlapping filters.
fn durable_consumer(consumer: &DurableConsumer) -> Vec<FieldError> {
    let at = "spec.nats.durableConsumer";
    let mut errors = Vec::new();
    if go_duration::parse(&consumer.ack_wait).ok() == Some(Duration::ZERO) {
        errors.push(FieldError::new(
            format!("{at}.ackWait"),
            "must be longer than zero: NATS would replace it with its default of 30s",
        ));
    }
    if consumer.max_deliver == Some(0) {
        errors.push(FieldError::new(
            format!("{at}.maxDeliver"),
            "must be -1 (no limit) or at least 1",
        ));
    }
    let backoff = &consumer.backoff;
    // The longest step so far and its index: each one must wait at least as long.
    let mut longest: Option<(Duration, usize)> = None;
    for (i, step) in backoff.iter().enumerate() {
        let path = format!("{at}.backoff[{i}]");
        let Ok(wait) = go_duration::parse(step) else {
            continue;
        };
        if wait.is_zero() {
            errors.push(FieldError::new(path, "must be longer than zero"));
            continue;
        }
        match longest {
            Some((before, j)) if wait < before => errors.push(FieldError::new(
                path,
                format!(
                    "must not be shorter than backoff[{j}] ({step} < {}): each redelivery waits at least as long as the one before",
                    backoff[j],
                ),
            )),
            _ => longest = Some((wait, i)),
        }
    }
    if let Some(limit) = consumer.max_deliver.filter(|m| *m > 0) {
        if backoff.len() as i64 > limit {
            errors.push(FieldError::new(
                format!("{at}.backoff"),
                format!(
                    "has {} steps but maxDeliver is {limit}: NATS refuses a backoff longer than maxDeliver (error 10116); \
                     shorten the backoff or raise maxDeliver",
                    backoff.len()
                ),
            ));
        }
    }
    let filters = &consumer.filter_subjects;
    for (i, subject) in filters.iter().enumerate() {
        let earlier = filters[..i]
            .iter()
            .enumerate()
            .find(|(_, other)| subjects_overlap(subject, other));
        if let Some((j, other)) = earlier {
            errors.push(FieldError::new(
                format!("{at}.filterSubjects[{i}]"),
                format!(
                    "overlaps filterSubjects[{j}] ({subject:?} and {other:?}): NATS refuses filters that match the same subject"
                ),
            ));
        }
    }
    errors
}
/// Whether some subject matches both filters, wildcards included.
fn subjects_overlap(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(x), Some(y)) if x == y || x == "*" || y == "*" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subjects_overlap;

    #[test]
    fn overlapping_filters() {
        for (a, b) in [
            ("orders.>", "orders.created"),
            ("orders.*", "orders.created"),
            ("orders.created", "orders.created"),
            (">", "anything.at.all"),
            ("orders.*.eu", "orders.created.*"),
        ] {
            assert!(subjects_overlap(a, b), "{a} {b}");
            assert!(subjects_overlap(b, a), "{b} {a}");
        }
        for (a, b) in [
            ("orders.created", "orders.paid"),
            ("orders.*", "orders.created.eu"),
            ("orders", "orders.>"),
            ("orders.*.eu", "orders.created.us"),
        ] {
            assert!(!subjects_overlap(a, b), "{a} {b}");
        }
    }
}
