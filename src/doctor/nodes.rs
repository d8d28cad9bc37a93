//! Every node of the cluster and what each reports for the trigger's consumer: the nodes are
//! the `--monitoring` endpoints given, or the one endpoint and the peers its server names in
//! `/routez` and `/varz`, each asked on the endpoint's port.

use super::{
    jsz::{Jsz, Routez, Sequences, Varz},
    monitoring::Monitoring,
    scaler::{endpoint_port, found_stream},
    trigger::Target,
};
use serde::Serialize;

/// One server and its view of the stream and consumer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// The server's name (`server_name`), empty if it did not answer.
    pub name: String,
    /// Its monitoring endpoint, host:port.
    pub endpoint: String,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Leader of the stream, as this node sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_leader: Option<String>,
    /// Leader of the consumer, as this node sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_leader: Option<String>,
    /// The consumer's `num_pending`, where this node has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_pending: Option<i64>,
    /// The consumer's `num_ack_pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_ack_pending: Option<i64>,
    /// `num_pending + num_ack_pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<i64>,
    /// The stream's last sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
    /// Its figures differ from the consumer leader's.
    pub stale: bool,
    /// The delivered and acknowledged sequences, which tell a stale node apart too.
    #[serde(skip)]
    pub(super) delivered: Option<(Sequences, Sequences)>,
}

/// The nodes to ask: the endpoints given when there are several, else the one endpoint and
/// the peers its server knows.
pub fn survey(target: &Target, endpoints: &[String], http: &Monitoring) -> Vec<Node> {
    let scheme = target.scheme();
    // Each address with whether a failure to answer there is news: it is for the endpoints
    // given and for the advertised client hosts, which KEDA asks; a route's address is only
    // where a peer's connection came from.
    let mut candidates: Vec<(String, bool)> = endpoints.iter().map(|e| (e.clone(), true)).collect();
    if let [endpoint] = endpoints {
        let on_port = |host: &str| match endpoint_port(endpoint) {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        if let Ok(routez) = http.get_json::<Routez>(&format!("{scheme}://{endpoint}/routez")) {
            candidates.extend(routez.routes.iter().map(|r| (on_port(&r.ip), false)));
        }
        if let Ok(varz) = http.get_json::<Varz>(&format!("{scheme}://{endpoint}/varz")) {
            candidates.extend(
                varz.connect_urls
                    .iter()
                    .map(|u| (on_port(u.split(':').next().unwrap_or_default()), true)),
            );
        }
    }
    let mut nodes: Vec<Node> = Vec::new();
    for (endpoint, news) in &candidates {
        if nodes.iter().any(|n| &n.endpoint == endpoint) {
            continue;
        }
        let named = http.get_json::<Varz>(&format!("{scheme}://{endpoint}/varz"));
        let node = match named {
            // The same server under another address (a route's source address, say).
            Ok(varz) if nodes.iter().any(|n| n.name == varz.server_name) => continue,
            Ok(varz) => read_node(target, endpoint, varz.server_name, http),
            Err(_) if !news => continue,
            Err(error) => Node {
                endpoint: endpoint.clone(),
                error: Some(error),
                ..Default::default()
            },
        };
        nodes.push(node);
    }
    mark_stale(&mut nodes);
    nodes
}

fn read_node(target: &Target, endpoint: &str, name: String, http: &Monitoring) -> Node {
    let mut node = Node {
        name,
        endpoint: endpoint.to_string(),
        ..Default::default()
    };
    let jsz = match http.get_json::<Jsz>(&target.jsz_url(endpoint)) {
        Ok(jsz) => jsz,
        Err(error) => {
            node.error = Some(error);
            return node;
        }
    };
    let Some(stream) = found_stream(&jsz, target) else {
        return node;
    };
    node.stream_leader = stream.cluster.as_ref().and_then(|c| c.leader.clone());
    node.last_seq = Some(stream.state.last_seq);
    if let Some(consumer) = stream.consumer(&target.consumer) {
        node.consumer_leader = consumer.cluster.as_ref().and_then(|c| c.leader.clone());
        node.num_pending = Some(consumer.num_pending);
        node.num_ack_pending = Some(consumer.num_ack_pending);
        node.lag = Some(consumer.lag());
        node.delivered = Some((consumer.delivered, consumer.ack_floor));
    }
    node
}

/// The consumer's leader, as most nodes that know it name it.
pub fn consumer_leader(nodes: &[Node]) -> Option<&str> {
    let mut names: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n.consumer_leader.as_deref())
        .filter(|l| !l.is_empty())
        .collect();
    names.sort_unstable();
    let mut best: Option<(&str, usize)> = None;
    for name in &names {
        let count = names.iter().filter(|n| *n == name).count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((name, count));
        }
    }
    best.map(|(name, _)| name)
}

/// Marks the nodes whose consumer figures differ from the leader's.
fn mark_stale(nodes: &mut [Node]) {
    let Some(leader) = consumer_leader(nodes).map(str::to_string) else {
        return;
    };
    let Some(figures) = nodes
        .iter()
        .find(|n| n.name == leader)
        .map(|n| (n.num_pending, n.num_ack_pending, n.delivered))
    else {
        return;
    };
    for node in nodes.iter_mut().filter(|n| n.error.is_none()) {
        node.stale = (node.num_pending, node.num_ack_pending, node.delivered) != figures;
    }
}
