//! KEDA v2.18's nats-jetstream scaler replayed on a fresh scaler's first poll: the same URLs
//! in the same order, the same account, stream and consumer matching, the same leader search
//! in a cluster, and the same lag and activity, so doctor reads what KEDA will read.
//!
//! In KEDA's words of behaviour: it asks `/jsz` at the trigger's endpoint; a server that says
//! its JetStream cluster has more than one member sends it to `/varz` for the cluster's client
//! URLs (or, when servers do not advertise them, the route URLs), and it asks each host, on the
//! endpoint's port, for its name and its `/jsz`, until the node the consumer names as its
//! leader answers; a failed request ends the poll with an error. A single server's answer is
//! used as it is, and there a missing consumer reads as the stream's last sequence and a
//! missing stream or account as 0. A running KEDA remembers the leader's URL between polls;
//! when a poll fails it builds the scaler again and polls once more from the start, so the
//! first poll is also what it reads after a leader change.

use super::{
    jsz::{keda_account, Jsz, Stream, Varz},
    monitoring::Monitoring,
    trigger::Target,
};
use serde::Serialize;

/// What KEDA's scaler reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reading {
    /// `num_pending + num_ack_pending` of the consumer (or what KEDA reads in its place);
    /// none when the poll fails.
    pub lag: Option<i64>,
    /// The lag is above `activationLagThreshold`.
    pub active: bool,
    /// The server KEDA took the figures from, when it is a cluster node it looked up.
    pub read_from: Option<String>,
    /// The URLs KEDA asks, in order.
    pub requests: Vec<String>,
    /// Why the poll fails.
    pub error: Option<String>,
    /// The poll failed on a node KEDA looks the leader up at, which answers KEDA inside the
    /// cluster but may not answer where doctor runs.
    #[serde(skip)]
    pub lookup_failed: bool,
}

/// KEDA's words when no node it asked leads the consumer.
const LEADER_NOT_FOUND: &str = "leader node not found for consumer";

/// KEDA's first poll against `endpoint` (host:port).
pub fn replay(target: &Target, endpoint: &str, http: &Monitoring) -> Reading {
    let mut reading = Reading::default();
    match poll(target, endpoint, http, &mut reading) {
        Ok((lag, from)) => {
            reading.lag = Some(lag);
            reading.active = lag > target.activation_lag_threshold;
            reading.read_from = from;
        }
        Err(error) => {
            reading.lookup_failed =
                reading.requests.len() > 1 && !error.starts_with(LEADER_NOT_FOUND);
            reading.error = Some(error);
        }
    }
    reading
}

fn poll(
    target: &Target,
    endpoint: &str,
    http: &Monitoring,
    reading: &mut Reading,
) -> Result<(i64, Option<String>), String> {
    let first: Jsz = ask(http, reading, target.jsz_url(endpoint))?;
    let cluster_size = first.meta_cluster.as_ref().map_or(0, |m| m.cluster_size);
    if cluster_size <= 1 {
        // A fresh scaler starts from an empty stream, which reads as lag 0.
        return Ok((lag_of(found_stream(&first, target), target), None));
    }
    let scheme = target.scheme();
    let port = endpoint_port(endpoint);
    let on_port = |host: &str| match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let varz: Varz = ask(http, reading, format!("{scheme}://{endpoint}/varz"))?;
    let advertised = !varz.connect_urls.is_empty();
    let urls = if advertised {
        varz.connect_urls
    } else {
        varz.cluster.urls
    };
    for url in urls {
        let (node, at) = if advertised {
            // A client URL's host, on the monitoring port; the node names itself in /varz.
            let host = on_port(url.split(':').next().unwrap_or_default());
            let named: Varz = ask(http, reading, format!("{scheme}://{host}/varz"))?;
            (named.server_name, host)
        } else {
            // A route URL's first label, as a host name under the endpoint.
            let node = url.split('.').next().unwrap_or_default().to_string();
            let host = format!("{node}.{endpoint}");
            (node, host)
        };
        let answer: Jsz = ask(http, reading, target.jsz_url(&at))?;
        let leads = found_stream(&answer, target)
            .and_then(|s| s.consumer(&target.consumer))
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.leader.as_deref())
            == Some(node.as_str());
        if leads {
            return Ok((lag_of(found_stream(&answer, target), target), Some(node)));
        }
    }
    Err(format!("{LEADER_NOT_FOUND} {}", target.consumer))
}

/// One request of the poll, remembered in the reading.
fn ask<T: serde::de::DeserializeOwned>(
    http: &Monitoring,
    reading: &mut Reading,
    url: String,
) -> Result<T, String> {
    let answer = http.get_json(&url);
    reading.requests.push(url);
    answer
}

/// The stream KEDA keeps from one answer.
pub fn found_stream<'a>(jsz: &'a Jsz, target: &Target) -> Option<&'a Stream> {
    keda_account(jsz, &target.account, &target.account_id).and_then(|a| a.stream(&target.stream))
}

fn lag_of(stream: Option<&Stream>, target: &Target) -> i64 {
    match stream {
        None => 0,
        Some(stream) => stream
            .consumer(&target.consumer)
            .map_or(stream.state.last_seq, |c| c.lag()),
    }
}

/// The port of a host:port endpoint, if it has one.
pub fn endpoint_port(endpoint: &str) -> Option<&str> {
    endpoint
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The replicas KEDA and the HPA aim for at this lag: none while inactive with
/// `minReplicaCount: 0`, else `ceil(lag / lagThreshold)` within `max(min, 1)..max` (the HPA's
/// tolerance and behavior only slow the way there).
pub fn desired_replicas(target: &Target, reading: &Reading) -> Option<i64> {
    let lag = reading.lag?;
    if !reading.active && target.min_replicas == 0 {
        return Some(0);
    }
    let threshold = target.lag_threshold.max(1);
    let wanted = lag.div_euclid(threshold) + i64::from(lag.rem_euclid(threshold) != 0);
    let floor = target.min_replicas.max(1);
    Some(wanted.clamp(floor, target.max_replicas.max(floor)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::monitoring::Answer;
    use serde_json::json;

    fn target(min: i64, max: i64, threshold: i64, activation: i64) -> Target {
        Target {
            endpoint: "nats:8222".into(),
            account: "$G".into(),
            account_id: "$G".into(),
            stream: "S".into(),
            consumer: "c".into(),
            lag_threshold: threshold,
            activation_lag_threshold: activation,
            use_https: false,
            min_replicas: min,
            max_replicas: max,
            paused: false,
            grace_period_seconds: 30,
        }
    }

    #[test]
    fn desired_replicas_follow_the_hpa_target_within_bounds() {
        let read = |lag, active| Reading {
            lag: Some(lag),
            active,
            ..Default::default()
        };
        let cases = [
            (
                "inactive scales to zero",
                target(0, 10, 10, 0),
                read(0, false),
                Some(0),
            ),
            (
                "inactive keeps the minimum",
                target(2, 10, 10, 0),
                read(0, false),
                Some(2),
            ),
            (
                "below the threshold, one replica",
                target(0, 10, 10, 0),
                read(3, true),
                Some(1),
            ),
            ("rounds up", target(0, 10, 10, 0), read(21, true), Some(3)),
            (
                "capped at the maximum",
                target(0, 4, 10, 0),
                read(1000, true),
                Some(4),
            ),
            (
                "below activation, still scaled by the HPA",
                target(1, 10, 10, 50),
                read(30, false),
                Some(3),
            ),
            (
                "no reading, no target",
                target(0, 4, 10, 0),
                Reading::default(),
                None,
            ),
        ];
        for (reason, target, reading, want) in cases {
            assert_eq!(desired_replicas(&target, &reading), want, "{reason}");
        }
    }

    fn jsz(cluster_size: i64, consumer: Option<(&str, i64)>) -> Answer {
        let consumers: Vec<_> = consumer
            .map(|(leader, pending)| {
                json!({"name": "c", "num_pending": pending, "num_ack_pending": 2, "cluster": {"leader": leader}})
            })
            .into_iter()
            .collect();
        Ok(json!({
            "meta_cluster": {"cluster_size": cluster_size},
            "account_details": [{"name": "ORDERS", "id": "AORDERSKEY", "stream_detail": [
                {"name": "S", "state": {"last_seq": 42}, "consumer_detail": consumers}
            ]}],
        })
        .to_string())
    }

    fn varz(name: &str, connect_urls: &[&str]) -> Answer {
        Ok(json!({"server_name": name, "connect_urls": connect_urls}).to_string())
    }

    const QUERY: &str = "/jsz?acc=AORDERSKEY&consumers=true&config=true";

    #[test]
    fn the_poll_asks_by_account_id_and_follows_the_leader() {
        let target = Target {
            account: "ORDERS".into(),
            account_id: "AORDERSKEY".into(),
            ..target(1, 10, 10, 0)
        };
        let http = Monitoring::answering([
            (format!("http://n0:8222{QUERY}"), jsz(3, Some(("n2", 0)))),
            (
                "http://n0:8222/varz".into(),
                varz("n0", &["n0:4222", "n1:4222", "n2:4222"]),
            ),
            ("http://n1:8222/varz".into(), varz("n1", &[])),
            (format!("http://n1:8222{QUERY}"), jsz(3, Some(("n2", 0)))),
            ("http://n2:8222/varz".into(), varz("n2", &[])),
            (format!("http://n2:8222{QUERY}"), jsz(3, Some(("n2", 8)))),
        ]);
        let reading = replay(&target, "n0:8222", &http);
        assert_eq!(
            (
                reading.lag,
                reading.active,
                reading.read_from.as_deref(),
                reading.error
            ),
            (Some(10), true, Some("n2"), None)
        );
        // n0 names itself in /varz before KEDA reads its /jsz again.
        assert_eq!(
            reading.requests[..4],
            [
                format!("http://n0:8222{QUERY}"),
                "http://n0:8222/varz".to_string(),
                "http://n0:8222/varz".to_string(),
                format!("http://n0:8222{QUERY}"),
            ]
        );
    }

    #[test]
    fn a_single_server_reads_the_last_sequence_without_the_consumer_and_0_without_the_stream() {
        let target = Target {
            account_id: "AORDERSKEY".into(),
            ..target(0, 10, 10, 0)
        };
        let at = format!("http://nats:8222{QUERY}");
        let missing = Monitoring::answering([(at.clone(), jsz(1, None))]);
        assert_eq!(replay(&target, "nats:8222", &missing).lag, Some(42));
        let other = Target {
            stream: "OTHER".into(),
            ..target.clone()
        };
        let nothing = replay(&other, "nats:8222", &missing);
        assert_eq!((nothing.lag, nothing.active), (Some(0), false));
    }

    #[test]
    fn a_cluster_without_the_consumers_leader_fails_as_keda_does() {
        let target = Target {
            account_id: "AORDERSKEY".into(),
            ..target(0, 10, 10, 0)
        };
        let http = Monitoring::answering([
            (format!("http://n0:8222{QUERY}"), jsz(3, None)),
            ("http://n0:8222/varz".into(), varz("n0", &["n0:4222"])),
        ]);
        let reading = replay(&target, "n0:8222", &http);
        assert_eq!(
            (reading.lag, reading.error.as_deref(), reading.lookup_failed),
            (None, Some("leader node not found for consumer c"), false)
        );
    }

    #[test]
    fn endpoint_ports_are_read_like_a_url_port() {
        assert_eq!(endpoint_port("nats:8222"), Some("8222"));
        assert_eq!(endpoint_port("nats"), None);
        assert_eq!(endpoint_port("[::1]:8222"), Some("8222"));
    }
}
