//! The rules of the scaling and consumer fields that their schema cannot state: replica counts
//! against each other, durations NATS would refuse or misread, and filter subjects that
//! overlap. Like `rules.rs`, they read the spec as it is and leave out the fields the
//! structural check already refused.

use crate::{
    api::{
        definition,
        field_error::FieldError,
        go_duration,
        rules::{checked, items},
    },
    document::tree::Tree,
};
use std::time::Duration;

/// Every broken rule of the scaling and consumer fields of `spec`, leaving out the paths in
/// `wrong`.
pub fn check<N: Tree>(spec: &N, wrong: &[FieldError]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(scaling) = spec.get("scaling") {
        replicas(scaling, wrong, &mut errors);
    }
    if let Some(consumer) = spec.get("nats").and_then(|n| n.get("durableConsumer")) {
        durable_consumer(consumer, wrong, &mut errors);
    }
    errors
}

/// `minReplicas <= maxReplicas`, and the fallback and paused counts between them; a count
/// left out has the XRD's default.
fn replicas<N: Tree>(scaling: &N, wrong: &[FieldError], errors: &mut Vec<FieldError>) {
    let count = |key: &str| match scaling.get(key).filter(|v| !v.is_null()) {
        Some(v) => checked(Some(v), &format!("spec.scaling.{key}"), wrong).and_then(Tree::as_i64),
        None => definition::spec_schema()
            .pointer(&format!("/properties/scaling/properties/{key}/default"))
            .and_then(serde_json::Value::as_i64),
    };
    let (Some(min), Some(max)) = (count("minReplicas"), count("maxReplicas")) else {
        return;
    };
    if min > max {
        errors.push(FieldError::new(
            "spec.scaling.minReplicas",
            format!("must not exceed spec.scaling.maxReplicas ({min} > {max})"),
        ));
        return;
    }
    let within = |path: &str, value: Option<&N>, why: &str| {
        let n = checked(value, path, wrong)?.as_i64()?;
        (n < min || n > max).then(|| {
            FieldError::new(
                path,
                format!("must be within minReplicas..maxReplicas ({min}..{max}, got {n}): {why}"),
            )
        })
    };
    errors.extend(within(
        "spec.scaling.fallback.replicas",
        scaling.get("fallback").and_then(|f| f.get("replicas")),
        "the HorizontalPodAutoscaler keeps the count within them, so the fallback would not be what it says",
    ));
    errors.extend(within(
        "spec.scaling.pausedReplicas",
        scaling.get("pausedReplicas"),
        "KEDA would hold the worker outside the bounds the claim sets",
    ));
}

/// Durations NATS would refuse or read otherwise than meant, the backoff against
/// `maxDeliver`, and overlapping filters.
fn durable_consumer<N: Tree>(consumer: &N, wrong: &[FieldError], errors: &mut Vec<FieldError>) {
    let at = "spec.nats.durableConsumer";
    let duration = |value: Option<&N>, path: &str| -> Option<Duration> {
        go_duration::parse(checked(value, path, wrong)?.as_str()?).ok()
    };
    let ack_wait_path = format!("{at}.ackWait");
    if duration(consumer.get("ackWait"), &ack_wait_path) == Some(Duration::ZERO) {
        errors.push(FieldError::new(
            ack_wait_path,
            "must be longer than zero: NATS would replace it with its default of 30s",
        ));
    }
    let max_deliver_path = format!("{at}.maxDeliver");
    let max_deliver =
        checked(consumer.get("maxDeliver"), &max_deliver_path, wrong).and_then(Tree::as_i64);
    if max_deliver == Some(0) {
        errors.push(FieldError::new(
            max_deliver_path.as_str(),
            "must be -1 (no limit) or at least 1",
        ));
    }
    let backoff = items(consumer.get("backoff"));
    // The longest step so far and its index: each one must wait at least as long.
    let mut longest: Option<(Duration, usize)> = None;
    for (i, step) in backoff.iter().enumerate() {
        let path = format!("{at}.backoff[{i}]");
        let Some(wait) = duration(Some(step), &path) else {
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
                    "must not be shorter than backoff[{j}] ({} < {}): each redelivery waits at least as long as the one before",
                    step.as_str().unwrap_or_default(),
                    backoff[j].as_str().unwrap_or_default(),
                ),
            )),
            _ => longest = Some((wait, i)),
        }
    }
    if let Some(limit) = max_deliver.filter(|m| *m > 0) {
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
    let filters = items(consumer.get("filterSubjects"));
    for (i, subject) in filters.iter().enumerate() {
        let path = format!("{at}.filterSubjects[{i}]");
        let Some(subject) = checked(Some(subject), &path, wrong).and_then(Tree::as_str) else {
            continue;
        };
        let earlier = filters[..i].iter().enumerate().find(|(j, other)| {
            checked(Some(*other), &format!("{at}.filterSubjects[{j}]"), wrong)
                .and_then(Tree::as_str)
                .is_some_and(|other| subjects_overlap(subject, other))
        });
        if let Some((j, other)) = earlier {
            errors.push(FieldError::new(
                path,
                format!(
                    "overlaps filterSubjects[{j}] ({subject:?} and {:?}): NATS refuses filters that match the same subject",
                    other.as_str().unwrap_or_default()
                ),
            ));
        }
    }
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
