//! How RunFunction messages cross the wire: prost's generated coding, except where a call would
//! spend most of its time (see `document::wire`).
//!
//! - A request's observed resources are decoded only as far as [`function::OBSERVED`] says
//!   `run` reads them; everything else in the request is decoded whole.
//! - A response's documents (desired state, context, output) are encoded with each nested
//!   length computed once; everything else is encoded by prost.

use crate::{
    document::wire::{
        begin_entry, delimited, entry_len, fields, merge_struct, string_entry, Lengths, View,
        ENTRY_VALUE,
    },
    function,
    proto::v1::{Resource, RunFunctionRequest, RunFunctionResponse, State},
};
use prost::{
    bytes::{Buf, BufMut},
    encoding::{btree_map, bytes, int32, message, string, WireType},
    DecodeError, Message,
};
use tonic::{
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    Status,
};

/// `RunFunctionRequest.observed`, `State.resources`, `Resource.resource`.
const REQUEST_OBSERVED: u32 = 2;
const STATE_COMPOSITE: u32 = 1;
const STATE_RESOURCES: u32 = 2;
const RESOURCE_RESOURCE: u32 = 1;
const RESOURCE_CONNECTION_DETAILS: u32 = 2;
const RESOURCE_READY: u32 = 3;

/// The server's side of RunFunction: requests in, responses out.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFunctionCodec;

impl Codec for RunFunctionCodec {
    type Encode = RunFunctionResponse;
    type Decode = RunFunctionRequest;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        *self
    }

    fn decoder(&mut self) -> Self {
        *self
    }
}

impl Encoder for RunFunctionCodec {
    type Item = RunFunctionResponse;
    type Error = Status;

    fn encode(&mut self, response: Self::Item, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        encode_response(&response, buf);
        Ok(())
    }
}

impl Decoder for RunFunctionCodec {
    type Item = RunFunctionRequest;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let message = buf.copy_to_bytes(buf.remaining());
        decode_request(&message, function::OBSERVED)
            .map(Some)
            // What prost's own codec answers.
            .map_err(|e| Status::internal(e.to_string()))
    }
}

/// Decodes a request, its observed resources as far as `observed` reads them.
pub fn decode_request(bytes: &[u8], observed: &View) -> Result<RunFunctionRequest, DecodeError> {
    let mut request = RunFunctionRequest::default();
    merge_except(&mut request, bytes, REQUEST_OBSERVED, |request, payload| {
        let state = request.observed.get_or_insert_with(State::default);
        merge_except(state, payload, STATE_RESOURCES, |state, entry| {
            let (key, resource) = observed_entry(entry, observed)?;
            // As prost merges a map: a later entry replaces an earlier one.
            state.resources.insert(key, resource);
            Ok(())
        })
    })?;
    Ok(request)
}

/// One entry of `State.resources`, its resource as far as `view` reads it.
fn observed_entry(bytes: &[u8], view: &View) -> Result<(String, Resource), DecodeError> {
    let mut resource = Resource::default();
    let key = string_entry(bytes, |_, payload| {
        merge_except(
            &mut resource,
            payload,
            RESOURCE_RESOURCE,
            |resource, payload| {
                let document = resource.resource.get_or_insert_with(Default::default);
                merge_struct(document, payload, view)
            },
        )
    })?;
    Ok((key, resource))
}

/// Merges `bytes` into `message`, handing the payload of each length-delimited field `tag` to
/// `special` and the runs of other fields to prost, in their order.
fn merge_except<M: Message>(
    message: &mut M,
    bytes: &[u8],
    tag: u32,
    mut special: impl FnMut(&mut M, &[u8]) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut run = 0..0;
    fields(bytes, |field| {
        if field.tag == tag && field.wire_type == WireType::LengthDelimited {
            message.merge(&bytes[run.clone()])?;
            run = field.end..field.end;
            special(message, field.payload)
        } else {
            run.end = field.end;
            Ok(())
        }
    })?;
    message.merge(&bytes[run])
}

/// Encodes `response` as prost does, its documents with each length computed once.
pub fn encode_response(response: &RunFunctionResponse, buf: &mut impl BufMut) {
    // Every field by name: a field added to the protocol must be added here too.
    let RunFunctionResponse {
        meta,
        desired,
        results,
        context,
        requirements,
        conditions,
        output,
    } = response;
    let mut lengths = Lengths::default();
    // Measured in the order they are written.
    if let Some(desired) = desired {
        state_len(&mut lengths, desired);
    }
    for document in [context, output].into_iter().flatten() {
        lengths.of_struct(document);
    }
    if let Some(meta) = meta {
        message::encode(1, meta, buf);
    }
    if let Some(desired) = desired {
        write_state(&mut lengths, 2, desired, buf);
    }
    message::encode_repeated(3, results, buf);
    if let Some(context) = context {
        lengths.write_struct(4, context, buf);
    }
    if let Some(requirements) = requirements {
        message::encode(5, requirements, buf);
    }
    message::encode_repeated(6, conditions, buf);
    if let Some(output) = output {
        lengths.write_struct(7, output, buf);
    }
    debug_assert!(lengths.is_done(), "measured more than was written");
}

// `State` and `Resource` are taken apart field by field, as the response is: a field added to
// the protocol must be added here too.

fn state_len(lengths: &mut Lengths, state: &State) -> usize {
    let State {
        composite,
        resources,
    } = state;
    let slot = lengths.slot();
    let composite = composite
        .as_ref()
        .map_or(0, |c| delimited(STATE_COMPOSITE, resource_len(lengths, c)));
    let resources: usize = resources
        .iter()
        .map(|(key, resource)| {
            let value = (!is_default(resource)).then(|| resource_len(lengths, resource));
            delimited(STATE_RESOURCES, entry_len(key, value))
        })
        .sum();
    lengths.set(slot, composite + resources)
}

fn write_state(lengths: &mut Lengths, tag: u32, state: &State, buf: &mut impl BufMut) {
    let State {
        composite,
        resources,
    } = state;
    lengths.begin(tag, buf);
    if let Some(composite) = composite {
        write_resource(lengths, STATE_COMPOSITE, composite, buf);
    }
    for (key, resource) in resources {
        let value = (!is_default(resource)).then(|| lengths.peek());
        begin_entry(STATE_RESOURCES, key, value, buf);
        if value.is_some() {
            write_resource(lengths, ENTRY_VALUE, resource, buf);
        }
    }
}

fn resource_len(lengths: &mut Lengths, resource: &Resource) -> usize {
    let Resource {
        resource,
        connection_details,
        ready,
    } = resource;
    let slot = lengths.slot();
    let document = resource
        .as_ref()
        .map_or(0, |s| delimited(RESOURCE_RESOURCE, lengths.of_struct(s)));
    let details = btree_map::encoded_len(
        string::encoded_len,
        bytes::encoded_len,
        RESOURCE_CONNECTION_DETAILS,
        connection_details,
    );
    let ready = if *ready == 0 {
        0
    } else {
        int32::encoded_len(RESOURCE_READY, ready)
    };
    lengths.set(slot, document + details + ready)
}

fn write_resource(lengths: &mut Lengths, tag: u32, resource: &Resource, buf: &mut impl BufMut) {
    let Resource {
        resource,
        connection_details,
        ready,
    } = resource;
    lengths.begin(tag, buf);
    if let Some(document) = resource {
        lengths.write_struct(RESOURCE_RESOURCE, document, buf);
    }
    btree_map::encode(
        string::encode,
        string::encoded_len,
        bytes::encode,
        bytes::encoded_len,
        RESOURCE_CONNECTION_DETAILS,
        connection_details,
        buf,
    );
    if *ready != 0 {
        int32::encode(RESOURCE_READY, ready, buf);
    }
}

/// prost leaves a map entry's value out when it equals the default.
fn is_default(resource: &Resource) -> bool {
    *resource == Resource::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        document::{
            convert::json_to_struct,
            wire::{ENTRY_KEY, WHOLE},
        },
        proto::v1::{
            Condition, CredentialData, Credentials, MatchLabels, RequestMeta, Requirements,
            ResourceSelector, Resources, ResponseMeta, Result as PbResult, Schema, SchemaSelector,
        },
    };
    use prost_types::Struct;
    use serde_json::json;
    use std::collections::BTreeMap;

    /// A provider-kubernetes Object as observed: what `run` reads, and what it does not.
    fn object() -> Struct {
        let live = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "w", "generation": 3},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "w"}},
                "template": {
                    "metadata": {"annotations": {"hash": "abc"}},
                    "spec": {"containers": [{"name": "w", "image": "w:1"}]},
                },
            },
            "status": {"observedGeneration": 3, "conditions": [{"type": "Available"}]},
        });
        json_to_struct(&json!({
            "apiVersion": "kubernetes.crossplane.io/v1alpha2",
            "kind": "Object",
            "metadata": {"name": "w-deployment", "generation": 2, "managedFields": [{}]},
            "spec": {"forProvider": {"manifest": live}},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "atProvider": {"manifest": live, "other": 1},
            },
        }))
    }

    /// What `run` reads of [`object`].
    fn object_as_read() -> Struct {
        let live = json!({
            "spec": {"replicas": 2, "template": {"metadata": {"annotations": {"hash": "abc"}}}},
            "status": {"observedGeneration": 3, "conditions": [{"type": "Available"}]},
        });
        json_to_struct(&json!({
            "metadata": {"generation": 2},
            "spec": {},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "atProvider": {"manifest": live},
            },
        }))
    }

    /// `request` with every observed document, all of them [`object`], as `run` reads it.
    fn as_read(mut request: RunFunctionRequest) -> RunFunctionRequest {
        let observed = request
            .observed
            .iter_mut()
            .flat_map(|o| o.resources.values_mut());
        for document in observed.filter_map(|r| r.resource.as_mut()) {
            *document = object_as_read();
        }
        request
    }

    fn resource(document: Struct) -> Resource {
        Resource {
            resource: Some(document),
            connection_details: BTreeMap::from([("password".into(), b"s3cr3t".to_vec())]),
            ready: 1,
        }
    }

    fn state() -> State {
        State {
            composite: Some(resource(json_to_struct(&json!({"spec": {"image": "w:1"}})))),
            resources: BTreeMap::from([
                ("deployment".into(), resource(object())),
                (String::new(), resource(object())),
                ("empty".into(), Resource::default()),
            ]),
        }
    }

    /// Every field of the protocol set, some twice.
    fn request() -> RunFunctionRequest {
        let selected = Resources {
            items: vec![resource(object())],
        };
        RunFunctionRequest {
            meta: Some(RequestMeta {
                tag: "t".into(),
                capabilities: vec![1, 2],
            }),
            observed: Some(state()),
            desired: Some(state()),
            input: Some(json_to_struct(&json!({"output": "Direct"}))),
            context: Some(json_to_struct(&json!({"env": {"a": [1, null, "b"]}}))),
            extra_resources: BTreeMap::from([("old".into(), selected.clone())]),
            credentials: BTreeMap::from([(
                "creds".into(),
                Credentials {
                    source: Some(crate::proto::v1::credentials::Source::CredentialData(
                        CredentialData {
                            data: BTreeMap::from([("k".into(), b"v".to_vec())]),
                        },
                    )),
                },
            )]),
            required_resources: BTreeMap::from([("config".into(), selected)]),
            required_schemas: BTreeMap::from([(
                "s".into(),
                Schema {
                    openapi_v3: Some(object()),
                },
            )]),
        }
    }

    fn response() -> RunFunctionResponse {
        let selector = ResourceSelector {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some("ns".into()),
            r#match: Some(crate::proto::v1::resource_selector::Match::MatchLabels(
                MatchLabels {
                    labels: BTreeMap::from([("a".into(), "b".into())]),
                },
            )),
        };
        RunFunctionResponse {
            meta: Some(ResponseMeta {
                tag: "t".into(),
                ttl: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
            }),
            desired: Some(state()),
            results: vec![PbResult {
                severity: 2,
                message: "m".into(),
                reason: Some("R".into()),
                target: Some(2),
            }],
            context: Some(json_to_struct(&json!({"env": {"a": [1, null, "b", {}]}}))),
            requirements: Some(Requirements {
                extra_resources: BTreeMap::from([("old".into(), selector.clone())]),
                resources: BTreeMap::from([("config".into(), selector)]),
                schemas: BTreeMap::from([(
                    "s".into(),
                    SchemaSelector {
                        api_version: "v1".into(),
                        kind: "Secret".into(),
                    },
                )]),
            }),
            conditions: vec![Condition {
                r#type: "Ready".into(),
                status: 2,
                reason: "Available".into(),
                message: Some(String::new()),
                target: Some(1),
            }],
            output: Some(json_to_struct(&json!({"ok": true}))),
        }
    }

    #[test]
    fn every_field_of_a_response_is_encoded_as_prost_encodes_it() {
        for response in [response(), RunFunctionResponse::default()] {
            let mut bytes = Vec::new();
            encode_response(&response, &mut bytes);
            assert!(bytes == response.encode_to_vec(), "{response:?}");
        }
    }

    #[test]
    fn a_request_is_decoded_as_prost_decodes_it_but_for_what_run_does_not_read() {
        let whole = request();
        let bytes = whole.encode_to_vec();
        assert_eq!(decode_request(&bytes, &WHOLE), Ok(whole.clone()));

        let mut expected = whole;
        let observed = expected
            .observed
            .iter_mut()
            .flat_map(|o| o.resources.values_mut());
        for document in observed.filter_map(|r| r.resource.as_mut()) {
            *document = object_as_read();
        }
        assert_eq!(decode_request(&bytes, function::OBSERVED), Ok(expected));
    }

    #[test]
    fn fields_repeated_or_out_of_order_merge_as_prost_merges_them() {
        // Two encoded messages one after the other are one message with both sets of fields.
        let mut later = request();
        later.meta = None;
        later
            .observed
            .as_mut()
            .map(|o| o.resources.remove("deployment"));
        let mut bytes = later.encode_to_vec();
        bytes.extend(request().encode_to_vec());
        bytes.extend(later.encode_to_vec());
        let theirs = RunFunctionRequest::decode(bytes.as_slice()).expect("well formed");
        assert_eq!(decode_request(&bytes, &WHOLE), Ok(theirs.clone()));

        // A later map entry replaces an earlier one, and every observed document is `object()`.
        assert_eq!(
            decode_request(&bytes, function::OBSERVED),
            Ok(as_read(theirs))
        );
    }

    #[test]
    fn a_resource_sent_twice_in_one_entry_merges_before_the_view_applies() {
        let other = json_to_struct(&json!({
            "spec": {"replicas": 5, "selector": {}},
            "status": {"atProvider": {"manifest": {"status": {"replicas": 5}}}},
        }));
        // `Resource.resource` twice in one value, then the value twice in one entry.
        let mut twice = Vec::new();
        message::encode(RESOURCE_RESOURCE, &object(), &mut twice);
        message::encode(RESOURCE_RESOURCE, &other, &mut twice);
        let mut entry = Vec::new();
        string::encode(ENTRY_KEY, &"deployment".to_string(), &mut entry);
        bytes::encode(ENTRY_VALUE, &twice, &mut entry);
        let mut halves = Vec::new();
        string::encode(ENTRY_KEY, &"scaledobject".to_string(), &mut halves);
        message::encode(ENTRY_VALUE, &resource(object()), &mut halves);
        message::encode(ENTRY_VALUE, &resource(other), &mut halves);
        let mut state = Vec::new();
        bytes::encode(STATE_RESOURCES, &entry, &mut state);
        bytes::encode(STATE_RESOURCES, &halves, &mut state);
        let mut request = Vec::new();
        bytes::encode(REQUEST_OBSERVED, &state, &mut request);

        // What prost merges, written once, the view reads as the tests above show.
        let merged = RunFunctionRequest::decode(request.as_slice()).expect("well formed");
        let once = decode_request(&merged.encode_to_vec(), function::OBSERVED);
        assert_eq!(decode_request(&request, function::OBSERVED), once);
        assert_ne!(once, decode_request(&request, &WHOLE), "the view applied");
    }

    #[test]
    fn malformed_requests_are_prosts_errors_not_panics() {
        let bytes = request().encode_to_vec();
        for end in 0..bytes.len() {
            let cut = &bytes[..end];
            // A cut inside a part the view skips still cuts the fields around it.
            let ours = decode_request(cut, function::OBSERVED);
            let theirs = RunFunctionRequest::decode(cut);
            assert_eq!(ours.is_ok(), theirs.is_ok(), "cut at {end}: {ours:?}");
        }
        // `observed.resources` as a number.
        let wrong_type = [0x12, 0x02, 0x10, 0x01];
        assert!(decode_request(&wrong_type, function::OBSERVED).is_err());
    }
}
