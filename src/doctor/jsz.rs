//! The parts of nats-server's monitoring answers doctor reads: `/jsz` (accounts, streams and
//! consumers, as KEDA's scaler decodes them, plus the figures that tell nodes apart), `/varz`
//! (the server's name and the URLs KEDA looks for the leader at) and `/routez` (the cluster's
//! other nodes). Every field is optional, as Go's decoder treats them: a missing one is zero.

use serde::Deserialize;

/// `/jsz?acc=...&consumers=true&config=true`, or `/jsz?accounts=true`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Jsz {
    /// The server has no JetStream.
    pub disabled: bool,
    /// The JetStream meta group: KEDA looks for the leader when it has more than one peer.
    pub meta_cluster: Option<MetaCluster>,
    /// The accounts the query matched.
    pub account_details: Vec<Account>,
}

/// The JetStream meta group of a clustered server.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MetaCluster {
    /// Number of servers in the JetStream cluster.
    pub cluster_size: i64,
    /// The meta leader's server name.
    pub leader: Option<String>,
}

/// One account with JetStream.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Account {
    /// The account's name (`$G`, `ORDERS`).
    pub name: String,
    /// The account's ID: its public key in operator mode, else its name.
    pub id: String,
    /// Its streams.
    #[serde(rename = "stream_detail")]
    pub streams: Vec<Stream>,
}

/// One stream, with its consumers.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Stream {
    /// The stream's name.
    pub name: String,
    /// The stream's configuration.
    pub config: StreamConfig,
    /// Message counts.
    pub state: StreamState,
    /// The stream's Raft group, in a cluster.
    pub cluster: Option<Cluster>,
    /// Its consumers.
    #[serde(rename = "consumer_detail")]
    pub consumers: Vec<Consumer>,
}

/// What a stream takes.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    /// The subjects the stream stores.
    pub subjects: Vec<String>,
    /// How many copies the stream keeps.
    pub num_replicas: i64,
}

/// A stream's message counts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamState {
    /// Messages stored.
    pub messages: i64,
    /// The last sequence: what KEDA 2.18 reads as lag when the consumer is missing.
    pub last_seq: i64,
}

/// The Raft group of a stream or consumer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Cluster {
    /// The leader's server name.
    pub leader: Option<String>,
}

/// One consumer, as the server reports it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Consumer {
    /// The consumer's name.
    pub name: String,
    /// Messages the consumer has not delivered yet.
    pub num_pending: i64,
    /// Messages delivered and not acknowledged.
    pub num_ack_pending: i64,
    /// Pull requests waiting.
    pub num_waiting: i64,
    /// Messages redelivered.
    pub num_redelivered: i64,
    /// The last delivered sequences.
    pub delivered: Sequences,
    /// The acknowledged floor.
    pub ack_floor: Sequences,
    /// The consumer's settings.
    pub config: ConsumerConfig,
    /// The consumer's Raft group, in a cluster.
    pub cluster: Option<Cluster>,
}

impl Consumer {
    /// The lag KEDA computes from this consumer.
    pub fn lag(&self) -> i64 {
        self.num_pending + self.num_ack_pending
    }
}

/// A consumer and a stream sequence.
#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(default)]
pub struct Sequences {
    /// The consumer's sequence.
    pub consumer_seq: i64,
    /// The stream's sequence.
    pub stream_seq: i64,
}

/// A consumer's settings as the server holds them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsumerConfig {
    /// The durable name, if durable.
    pub durable_name: Option<String>,
    /// Set for a push consumer: where it delivers.
    pub deliver_subject: Option<String>,
    /// A push consumer's queue group.
    pub deliver_group: Option<String>,
    /// One filter subject.
    pub filter_subject: Option<String>,
    /// Several filter subjects.
    pub filter_subjects: Vec<String>,
    /// `explicit`, `all` or `none`.
    pub ack_policy: Option<String>,
    /// The ack wait in nanoseconds; with a backoff the server sets it to backoff[0].
    pub ack_wait: Option<i64>,
    /// How many messages may be delivered and unacknowledged at once; -1 for no limit.
    pub max_ack_pending: Option<i64>,
    /// Deliveries before a message is given up; -1 for no limit.
    pub max_deliver: Option<i64>,
    /// Redelivery delays in nanoseconds.
    pub backoff: Vec<i64>,
}

impl ConsumerConfig {
    /// Every filter subject, whichever field holds them.
    pub fn filters(&self) -> Vec<String> {
        self.filter_subject
            .iter()
            .filter(|f| !f.is_empty())
            .cloned()
            .chain(self.filter_subjects.iter().cloned())
            .collect()
    }

    /// Whether the server pushes messages to a subject instead of workers pulling them.
    pub fn is_push(&self) -> bool {
        self.deliver_subject
            .as_deref()
            .is_some_and(|s| !s.is_empty())
    }
}

/// `/varz`: who the server is and where its cluster's clients connect.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Varz {
    /// The server's name, which stream and consumer leaders are named by.
    pub server_name: String,
    /// Client URLs of every server of the cluster, as the servers advertise them.
    pub connect_urls: Vec<String>,
    /// The cluster's route settings.
    pub cluster: VarzCluster,
}

/// The `cluster` block of `/varz`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VarzCluster {
    /// The configured route URLs.
    pub urls: Vec<String>,
}

/// `/routez`: the routes to the cluster's other servers.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Routez {
    /// This server's name.
    pub server_name: String,
    /// One entry per route connection (a pool holds several per peer).
    pub routes: Vec<Route>,
}

/// One route connection.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Route {
    /// The peer's server name.
    pub remote_name: String,
    /// The peer's address as this server sees it.
    pub ip: String,
}

/// The account KEDA keeps among those `/jsz` returns: the one whose ID is `account_id` or
/// whose name is `account`.
pub fn keda_account<'a>(jsz: &'a Jsz, account: &str, account_id: &str) -> Option<&'a Account> {
    jsz.account_details
        .iter()
        .find(|a| a.id == account_id || a.name == account)
}

impl Account {
    /// The stream of this name.
    pub fn stream(&self, name: &str) -> Option<&Stream> {
        self.streams.iter().find(|s| s.name == name)
    }
}

impl Stream {
    /// The consumer of this name.
    pub fn consumer(&self, name: &str) -> Option<&Consumer> {
        self.consumers.iter().find(|c| c.name == name)
    }
}
