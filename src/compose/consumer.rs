//! The optional NACK Consumer: the durable consumer the worker pulls from and KEDA measures,
//! declared with the claim so it exists before the first pod and outlives the claim.

use super::Labels;
use crate::api::{
    input::Settings,
    placement::Placement,
    spec::{DurableConsumer, Spec},
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// API version of NACK's Consumer.
pub const API_VERSION: &str = "jetstream.nats.io/v1beta2";

/// A NACK Consumer, with the fields this function sets.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consumer {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: ConsumerSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConsumerSpec {
    stream_name: String,
    durable_name: String,
    deliver_policy: &'static str,
    ack_policy: &'static str,
    /// Always set: NACK's CRD defaults it to 1ns, which redelivers at once.
    ack_wait: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_deliver: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_ack_pending: Option<i64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    filter_subjects: Vec<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    backoff: Vec<String>,
    servers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    /// Deleting the claim, or NACK's Consumer with it, keeps the JetStream consumer and its
    /// position.
    prevent_delete: bool,
}

/// Builds the Consumer `<name>-consumer` when the claim declares one.
pub fn build(
    spec: &Spec,
    settings: &Settings,
    placement: &Placement,
    labels: &Labels,
) -> Option<Consumer> {
    let nats = &spec.nats;
    let declared: &DurableConsumer = nats.durable_consumer.as_ref()?;
    let url = nats.url.as_deref().unwrap_or(&settings.nats.url);
    Some(Consumer {
        api_version: API_VERSION,
        kind: "Consumer",
        metadata: super::metadata(&format!("{}-consumer", placement.name), placement, labels),
        spec: ConsumerSpec {
            stream_name: nats.stream.clone(),
            durable_name: nats.consumer.clone(),
            deliver_policy: "all",
            ack_policy: "explicit",
            ack_wait: declared.ack_wait.clone(),
            max_deliver: declared.max_deliver,
            max_ack_pending: declared.max_ack_pending,
            filter_subjects: declared.filter_subjects.clone(),
            backoff: declared.backoff.clone(),
            // The worker's URL may list several servers, comma-separated; NACK takes a list.
            servers: url.split(',').map(str::to_string).collect(),
            account: declared.account_ref.as_ref().map(|a| a.name.clone()),
            prevent_delete: true,
        },
    })
}
