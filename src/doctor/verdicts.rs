//! What is wrong, and what to change, judged from the answers of the monitoring endpoints:
//! each problem is something that keeps KEDA from reading the right lag (doctor exits 1);
//! each piece of advice is something that reads right but scales badly.

use super::{
    jsz::{Account, Consumer, Jsz, Stream},
    nodes::{consumer_leader, Node},
    scaler::Reading,
    trigger::Target,
};
use crate::warnings::{grace_advice, lag_threshold_advice};
use serde::Serialize;
use std::time::Duration;

/// One finding: a stable code for scripts, what is the case, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable name: `AccountNotFound`, `ConsumerNotFound`, `PushConsumer`, ...
    pub code: &'static str,
    /// What is the case.
    pub message: String,
    /// What to change.
    pub fix: String,
}

/// Everything the endpoints answered.
pub struct Answers<'a> {
    /// The trigger, as rendered.
    pub target: &'a Target,
    /// KEDA's first query at the endpoint.
    pub first: &'a Result<Jsz, String>,
    /// Every account with JetStream and its streams (`/jsz?accounts=true&streams=true`).
    pub accounts: &'a Result<Jsz, String>,
    /// The nodes.
    pub nodes: &'a [Node],
    /// What KEDA reads.
    pub reading: &'a Reading,
    /// A leader lookup of KEDA's that failed from here, when the leader's figures read from
    /// the nodes given stand in for KEDA's reading.
    pub not_replayed: Option<String>,
}

/// The problems and the advice.
pub fn judge(answers: &Answers) -> (Vec<Finding>, Vec<Finding>) {
    let mut problems = Vec::new();
    let mut advice = Vec::new();
    let target = answers.target;
    let found = |code, message: String, fix: String| Finding { code, message, fix };
    let first = match answers.first {
        Ok(first) => first,
        Err(error) => {
            problems.push(found(
                "EndpointUnreadable",
                error.clone(),
                "make natsServerMonitoringEndpoint (spec.nats.monitoringEndpoint or the Input's \
                 nats.monitoringEndpoint) the host:port of a NATS monitoring port KEDA can reach"
                    .into(),
            ));
            return (problems, advice);
        }
    };
    if first.disabled {
        problems.push(found(
            "JetStreamDisabled",
            format!("the server at {} runs without JetStream", target.endpoint),
            "point natsServerMonitoringEndpoint at the monitoring port of a JetStream server"
                .into(),
        ));
        return (problems, advice);
    }
    let all: Vec<&Account> = answers
        .accounts
        .as_ref()
        .map(|j| j.account_details.iter().collect())
        .unwrap_or_default();
    let Some(account) = super::jsz::keda_account(first, &target.account, &target.account_id) else {
        problems.push(account_not_found(target, &all));
        return (problems, advice);
    };
    let Some(stream) = account.stream(&target.stream) else {
        let names: Vec<&str> = account.streams.iter().map(|s| s.name.as_str()).collect();
        problems.push(found(
            "StreamNotFound",
            format!(
                "account {} has no stream {:?} (it has: {}){}; KEDA reads lag 0 or fails, and \
                 the worker never scales",
                account.name,
                target.stream,
                list(&names),
                did_you_mean(&target.stream, &names)
            ),
            "set spec.nats.stream to the stream's name, or create the stream".into(),
        ));
        return (problems, advice);
    };
    let Some(consumer) = stream.consumer(&target.consumer) else {
        problems.push(consumer_not_found(target, stream, answers.reading));
        return (problems, advice);
    };
    if consumer.config.is_push() {
        problems.push(found(
            "PushConsumer",
            format!(
                "consumer {:?} is a push consumer (deliver subject {:?}{}): KEDA reads its lag, \
                 but the worker's replicas pull; a push consumer hands every message to its \
                 subject whether or not a replica takes it, so scaling out does not share work",
                target.consumer,
                consumer.config.deliver_subject.clone().unwrap_or_default(),
                consumer
                    .config
                    .deliver_group
                    .as_deref()
                    .map(|g| format!(", queue group {g:?}"))
                    .unwrap_or_default()
            ),
            "recreate it as a pull consumer (no deliver subject), e.g. with \
             spec.nats.durableConsumer"
                .into(),
        ));
    }
    if let Some(error) = &answers.reading.error {
        problems.push(found(
            "KedaCannotRead",
            format!("KEDA's scaler fails: {error}"),
            "make every node KEDA looks up (the requests listed) reachable from KEDA on the \
             monitoring port; in Kubernetes point the endpoint at the headless service, e.g. \
             nats-headless.<namespace>.svc.cluster.local:8222"
                .into(),
        ));
    }
    if let Some(error) = &answers.not_replayed {
        advice.push(found(
            "LookupNotReplayed",
            format!(
                "KEDA looks the consumer leader up at hosts that do not answer here ({error}); \
                 the lag shown is the leader's, read from the nodes given"
            ),
            "nothing if KEDA reaches every node on the monitoring port from its pod; run \
             doctor where the trigger's endpoint resolves to check that too"
                .into(),
        ));
    }
    for node in answers.nodes.iter().filter(|n| n.error.is_some()) {
        advice.push(found(
            "NodeUnreachable",
            node.error.clone().unwrap_or_default(),
            "KEDA stops at the first node it cannot ask while looking for the leader; restore \
             the node or its address"
                .into(),
        ));
    }
    stale(answers.nodes, &mut advice);
    timing(target, consumer, &mut advice);
    if target.paused {
        advice.push(found(
            "Paused",
            "the ScaledObject is paused (spec.scaling.paused): KEDA reads the lag but does not \
             scale"
                .into(),
            "set spec.scaling.paused: false to scale again".into(),
        ));
    }
    (problems, advice)
}

fn account_not_found(target: &Target, all: &[&Account]) -> Finding {
    let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
    let holder = all.iter().find(|a| {
        a.stream(&target.stream)
            .is_some_and(|s| s.consumer(&target.consumer).is_some() || s.consumers.is_empty())
    });
    let wanted = if target.account_id == target.account {
        format!("account {:?}", target.account)
    } else {
        format!(
            "account {:?} / accountID {:?}",
            target.account, target.account_id
        )
    };
    let fix = match holder {
        Some(a) if a.id != a.name => format!(
            "stream {:?} is in account {} (ID {}): set spec.nats.accountID: {}",
            target.stream, a.name, a.id, a.id
        ),
        Some(a) => format!(
            "stream {:?} is in account {}: set spec.nats.account: {}",
            target.stream, a.name, a.name
        ),
        None => {
            "set spec.nats.account (or accountID) to the account that holds the stream".to_string()
        }
    };
    Finding {
        code: "AccountNotFound",
        message: format!(
            "the server has no JetStream {wanted} (accounts with JetStream: {}){}; KEDA finds no \
             stream and reads lag 0 or fails, so the worker never scales",
            list(&names),
            did_you_mean(&target.account, &names)
        ),
        fix,
    }
}

fn consumer_not_found(target: &Target, stream: &Stream, reading: &Reading) -> Finding {
    let names: Vec<&str> = stream.consumers.iter().map(|c| c.name.as_str()).collect();
    let keda = match (&reading.error, reading.lag) {
        (Some(error), _) => format!("KEDA fails ({error}) and does not scale"),
        (None, Some(lag)) => format!(
            "KEDA 2.18 reads the stream's last sequence ({lag}) as lag and scales out for \
             messages no consumer of the worker delivers"
        ),
        (None, None) => "KEDA reads nothing".to_string(),
    };
    Finding {
        code: "ConsumerNotFound",
        message: format!(
            "stream {:?} has no consumer {:?} (it has: {}){}; {keda}",
            target.stream,
            target.consumer,
            list(&names),
            did_you_mean(&target.consumer, &names)
        ),
        fix: "create the durable consumer before the worker scales (spec.nats.durableConsumer \
              declares it), or set spec.nats.consumer to the existing one"
            .into(),
    }
}

fn stale(nodes: &[Node], advice: &mut Vec<Finding>) {
    let Some(leader) = consumer_leader(nodes) else {
        return;
    };
    let leader_lag = nodes.iter().find(|n| n.name == leader).and_then(|n| n.lag);
    for node in nodes.iter().filter(|n| n.stale) {
        advice.push(Finding {
            code: "StaleFollower",
            message: format!(
                "node {} reports lag {} where the consumer leader {leader} reports {}: a \
                 follower's figures lag behind the leader's",
                node.name,
                show(node.lag),
                show(leader_lag)
            ),
            fix: "nothing for KEDA 2.18, which looks the leader up; tools that ask one node \
                  through a load-balanced service may read the follower's figures"
                .into(),
        });
    }
}

fn timing(target: &Target, consumer: &Consumer, advice: &mut Vec<Finding>) {
    let config = &consumer.config;
    if let Some(pending) = config.max_ack_pending.filter(|p| *p > 0) {
        if let Some(message) = lag_threshold_advice(
            target.lag_threshold,
            pending,
            "the server's maxAckPending for the consumer",
        ) {
            advice.push(Finding {
                code: "LagBelowAckPending",
                message,
                fix: format!(
                    "spec.scaling.lagThreshold: {pending}, or a lower maxAckPending on the consumer"
                ),
            });
        }
    }
    if let Some(wait) = config.ack_wait.filter(|w| *w > 0) {
        let wait = Duration::from_nanos(u64::try_from(wait).unwrap_or_default());
        let which = if config.backoff.is_empty() {
            format!("{}s on the server", wait.as_secs_f64())
        } else {
            format!("{}s on the server, its backoff[0]", wait.as_secs_f64())
        };
        if let Some(message) = grace_advice(target.grace_period_seconds, wait, &which) {
            advice.push(Finding {
                code: "GraceBelowAckWait",
                message,
                fix: format!(
                    "spec.shutdown.gracePeriodSeconds: {}, or a shorter ack wait",
                    wait.as_secs_f64().ceil()
                ),
            });
        }
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn show(n: Option<i64>) -> String {
    n.map_or("-".into(), |n| n.to_string())
}

/// ", did you mean X?" when one name is close to the one wanted.
fn did_you_mean(wanted: &str, names: &[&str]) -> String {
    crate::api::closest(wanted, names)
        .map(|n| format!("; did you mean {n:?}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn target() -> Target {
        Target {
            endpoint: "nats:8222".into(),
            account: "ORDERS".into(),
            account_id: "ORDERS".into(),
            stream: "JOBS".into(),
            consumer: "workers".into(),
            lag_threshold: 1000,
            activation_lag_threshold: 0,
            use_https: false,
            min_replicas: 0,
            max_replicas: 10,
            paused: false,
            grace_period_seconds: 60,
        }
    }

    fn consumer(config: Value) -> Value {
        json!({"name": "workers", "num_pending": 7, "num_ack_pending": 3, "config": config})
    }

    fn server(account: &str, streams: Value) -> Jsz {
        serde_json::from_value(json!({
            "meta_cluster": {"cluster_size": 1},
            "account_details": [{"name": account, "id": account, "stream_detail": streams}],
        }))
        .unwrap()
    }

    fn stream(consumers: Value) -> Value {
        json!([{"name": "JOBS", "state": {"last_seq": 42}, "consumer_detail": consumers}])
    }

    fn judged(jsz: Jsz, reading: Reading) -> (Vec<&'static str>, Vec<Finding>, Vec<Finding>) {
        let target = target();
        let accounts = Ok(server("ORDERS", stream(json!([]))));
        let first = Ok(jsz);
        let (problems, advice) = judge(&Answers {
            target: &target,
            first: &first,
            accounts: &accounts,
            nodes: &[],
            reading: &reading,
            not_replayed: None,
        });
        (problems.iter().map(|p| p.code).collect(), problems, advice)
    }

    fn read(lag: i64) -> Reading {
        Reading {
            lag: Some(lag),
            active: lag > 0,
            ..Default::default()
        }
    }

    #[test]
    fn verdicts_from_jsz_answers() {
        let pull = json!({"ack_policy": "explicit", "ack_wait": 30_000_000_000i64, "max_ack_pending": 1000});
        let cases = [
            (
                "a pull consumer reads right",
                server("ORDERS", stream(json!([consumer(pull.clone())]))),
                read(10),
                vec![],
            ),
            (
                "another account",
                server("$G", stream(json!([consumer(pull.clone())]))),
                read(0),
                vec!["AccountNotFound"],
            ),
            (
                "no stream",
                server("ORDERS", json!([])),
                read(0),
                vec!["StreamNotFound"],
            ),
            (
                "no consumer",
                server("ORDERS", stream(json!([]))),
                read(42),
                vec!["ConsumerNotFound"],
            ),
            (
                "a push consumer",
                server(
                    "ORDERS",
                    stream(json!([consumer(
                        json!({"deliver_subject": "jobs.deliver"})
                    )])),
                ),
                read(10),
                vec!["PushConsumer"],
            ),
            (
                "KEDA cannot find the leader",
                server("ORDERS", stream(json!([consumer(pull.clone())]))),
                Reading {
                    error: Some("leader node not found for consumer workers".into()),
                    ..Default::default()
                },
                vec!["KedaCannotRead"],
            ),
            (
                "no JetStream",
                serde_json::from_value(json!({"disabled": true})).unwrap(),
                read(0),
                vec!["JetStreamDisabled"],
            ),
        ];
        for (reason, jsz, reading, want) in cases {
            assert_eq!(judged(jsz, reading).0, want, "{reason}");
        }
    }

    #[test]
    fn a_wrong_account_names_the_accounts_and_the_one_holding_the_stream() {
        let target = Target {
            account: "ORDRES".into(),
            account_id: "ORDRES".into(),
            ..target()
        };
        let first =
            Ok(serde_json::from_value(json!({"meta_cluster": {"cluster_size": 3}})).unwrap());
        let accounts = Ok(server("ORDERS", stream(json!([consumer(json!({}))]))));
        let (problems, _) = judge(&Answers {
            target: &target,
            first: &first,
            accounts: &accounts,
            nodes: &[],
            reading: &Reading::default(),
            not_replayed: None,
        });
        assert_eq!(
            (problems[0].message.as_str(), problems[0].fix.as_str()),
            (
                "the server has no JetStream account \"ORDRES\" (accounts with JetStream: ORDERS); \
                 did you mean \"ORDERS\"?; KEDA finds no stream and reads lag 0 or fails, so the \
                 worker never scales",
                "stream \"JOBS\" is in account ORDERS: set spec.nats.account: ORDERS"
            )
        );
    }

    #[test]
    fn timing_advice_uses_the_servers_settings() {
        let config = json!({"ack_wait": 120_000_000_000i64, "max_ack_pending": 5000, "backoff": [120_000_000_000i64]});
        let (codes, _, advice) = judged(
            server("ORDERS", stream(json!([consumer(config)]))),
            read(10),
        );
        assert!(codes.is_empty(), "{codes:?}");
        let advised: Vec<_> = advice.iter().map(|a| (a.code, a.fix.as_str())).collect();
        assert_eq!(
            advised,
            [
                (
                    "LagBelowAckPending",
                    "spec.scaling.lagThreshold: 5000, or a lower maxAckPending on the consumer"
                ),
                (
                    "GraceBelowAckWait",
                    "spec.shutdown.gracePeriodSeconds: 120, or a shorter ack wait"
                ),
            ]
        );
        assert!(
            advice[1]
                .message
                .contains("(120s on the server, its backoff[0])"),
            "{}",
            advice[1].message
        );
    }

    #[test]
    fn did_you_mean_picks_a_close_name_only() {
        assert_eq!(
            did_you_mean("ORDRES", &["ORDERS", "APP"]),
            "; did you mean \"ORDERS\"?"
        );
        assert_eq!(did_you_mean("$G", &["ORDERS"]), "");
    }
}
