//! doctor's answer: one JSON document for scripts (`--output json`), or a short table.

use super::{nodes::Node, scaler::Reading, verdicts::Finding};
use serde::Serialize;
use std::fmt::Write as _;

/// Everything doctor found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// No problem: KEDA will read the right numbers.
    pub ok: bool,
    /// The monitoring endpoint asked (the trigger's, or the first `--monitoring`).
    pub endpoint: String,
    /// The endpoint answered KEDA's query; without that nothing else was asked.
    pub reached: bool,
    /// The trigger's account (`account`, else empty) and the ID KEDA queries.
    pub account: String,
    /// The ID KEDA queries and matches (`accountID`, else `account`).
    pub account_id: String,
    /// The account exists on the server with JetStream.
    pub account_found: bool,
    /// Accounts with JetStream on the server.
    pub accounts: Vec<String>,
    /// The trigger's stream.
    pub stream: String,
    /// The stream exists in the account.
    pub stream_found: bool,
    /// The stream's leader, in a cluster.
    pub stream_leader: Option<String>,
    /// The trigger's consumer.
    pub consumer: String,
    /// The consumer exists on the stream.
    pub consumer_found: bool,
    /// The consumer's leader, in a cluster.
    pub consumer_leader: Option<String>,
    /// `pull` or `push`, when the consumer exists.
    pub delivery: Option<&'static str>,
    /// The consumer's filter subjects (none: the whole stream).
    pub filter_subjects: Vec<String>,
    /// The consumer's ack wait on the server, in seconds.
    pub ack_wait_seconds: Option<f64>,
    /// The consumer's maxAckPending on the server.
    pub max_ack_pending: Option<i64>,
    /// `lagThreshold`, KEDA's target lag per replica.
    pub lag_threshold: i64,
    /// `activationLagThreshold`.
    pub activation_lag_threshold: i64,
    /// What KEDA's scaler reads.
    pub keda: Reading,
    /// The replicas KEDA's target gives at that lag.
    pub desired_replicas: Option<i64>,
    /// `minReplicaCount`..`maxReplicaCount`.
    pub min_replicas: i64,
    /// See `min_replicas`.
    pub max_replicas: i64,
    /// Every node asked.
    pub nodes: Vec<Node>,
    /// What keeps KEDA from reading the right lag, each with its fix.
    pub problems: Vec<Finding>,
    /// What reads right but scales badly.
    pub advice: Vec<Finding>,
}

impl Report {
    /// The report as a short table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let yes = |b: bool| if b { "found" } else { "NOT FOUND" };
        let opt = |o: &Option<String>| {
            o.clone()
                .map(|l| format!(", leader {l}"))
                .unwrap_or_default()
        };
        let mut row = |k: &str, v: String| {
            let _ = writeln!(out, "{k:<14} {v}");
        };
        row("endpoint", self.endpoint.clone());
        if !self.reached {
            self.findings(&mut out);
            return out;
        }
        let id = if self.account_id != self.account {
            format!(" (accountID {})", self.account_id)
        } else {
            String::new()
        };
        row(
            "account",
            format!(
                "{}{id}: {} (server has: {})",
                self.account,
                yes(self.account_found),
                self.accounts.join(", ")
            ),
        );
        row(
            "stream",
            format!(
                "{}: {}{}",
                self.stream,
                yes(self.stream_found),
                opt(&self.stream_leader)
            ),
        );
        let consumer = match self.delivery {
            Some(delivery) => format!(
                "{}: found{}, {delivery}, filter {}, ack wait {}, max ack pending {}",
                self.consumer,
                opt(&self.consumer_leader),
                if self.filter_subjects.is_empty() {
                    "none".to_string()
                } else {
                    self.filter_subjects.join(" ")
                },
                self.ack_wait_seconds
                    .map_or("-".into(), |s| format!("{s}s")),
                self.max_ack_pending.map_or("-".into(), |p| p.to_string()),
            ),
            None => format!("{}: {}", self.consumer, yes(false)),
        };
        row("consumer", consumer);
        let lag = match (&self.keda.error, self.keda.lag) {
            (Some(error), _) => format!("none: {error}"),
            (None, Some(lag)) => format!(
                "{lag} (num_pending + num_ack_pending){}; {} (activationLagThreshold {})",
                self.keda
                    .read_from
                    .as_ref()
                    .map(|n| format!(" from {n}"))
                    .unwrap_or_default(),
                if self.keda.active {
                    "active"
                } else {
                    "not active"
                },
                self.activation_lag_threshold
            ),
            (None, None) => "none".into(),
        };
        row("KEDA lag", lag);
        row(
            "replicas",
            match self.desired_replicas {
                Some(n) => format!(
                    "{n} (lagThreshold {}, {}..{})",
                    self.lag_threshold, self.min_replicas, self.max_replicas
                ),
                None => "unknown: KEDA has no lag".into(),
            },
        );
        for node in &self.nodes {
            let state = match &node.error {
                Some(error) => format!("unreachable: {error}"),
                None => {
                    let role = match (&self.consumer_leader, node.consumer_leader.is_some()) {
                        (Some(l), _) if *l == node.name => "consumer leader",
                        (_, true) => "follower",
                        _ => "no consumer",
                    };
                    format!(
                        "{role}, lag {}{}",
                        node.lag.map_or("-".into(), |l| l.to_string()),
                        if node.stale { ", STALE" } else { "" }
                    )
                }
            };
            row("node", format!("{} {}: {state}", node.name, node.endpoint));
        }
        self.findings(&mut out);
        out
    }

    /// The problems and advice, each with its fix, and the verdict.
    fn findings(&self, out: &mut String) {
        for (word, findings) in [("PROBLEM", &self.problems), ("advice", &self.advice)] {
            for f in findings {
                let _ = writeln!(out, "{word} {}: {}\n  fix: {}", f.code, f.message, f.fix);
            }
        }
        let _ = writeln!(
            out,
            "{}",
            if self.ok {
                "ok: KEDA will read the right numbers"
            } else {
                "not ok: KEDA will not read the right numbers"
            }
        );
    }
}
