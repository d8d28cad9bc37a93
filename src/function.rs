//! The composition function: one pure call from a RunFunction request to its response. No I/O.

use crate::{
    api::{
        field_error::{self, FieldError},
        EventDrivenService,
    },
    compose, config_hash,
    document::convert,
    document::tree::ObjectParts,
    observed,
    proto::v1::{
        Ready, ResponseMeta, Result as PbResult, RunFunctionRequest, RunFunctionResponse, Severity,
        State, Target,
    },
    warnings,
};
use prost_types::Value as PbValue;
use serde_json::Value;
use std::time::Duration;

/// A request that is not well formed; the server answers it with a gRPC error status.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Malformed {
    /// Crossplane always sends the observed XR; without it there is nothing to compose.
    #[error("request has no observed composite resource")]
    NoObservedComposite,
}

/// Runs the function: starts from the request, then adds or replaces our four resources.
///
/// `default_ttl` is the server's `--ttl`; a TTL in the Input takes precedence. Nothing is
/// remembered between calls: Crossplane's own function response cache, keyed on the request
/// and honouring the TTL returned here, spares the steady reconcile.
pub fn run(
    req: &RunFunctionRequest,
    default_ttl: Duration,
) -> Result<RunFunctionResponse, Malformed> {
    let xr = observed_composite(req).ok_or(Malformed::NoObservedComposite)?;
    let mut rsp = RunFunctionResponse {
        meta: Some(ResponseMeta {
            tag: req.meta.as_ref().map(|m| m.tag.clone()).unwrap_or_default(),
            ttl: Some(to_proto_duration(default_ttl)),
        }),
        desired: Some(req.desired.clone().unwrap_or_default()),
        context: req.context.clone(),
        ..Default::default()
    };

    let EventDrivenService {
        spec,
        settings,
        placement,
    } = match read_composite(xr, req) {
        Ok(service) => service,
        Err(errors) => {
            let mistakes = format!(
                "cannot compose this EventDrivenService:\n{}",
                field_error::join(&errors)
            );
            rsp.conditions
                .extend(observed::spec_validity(xr.status, Some(mistakes.clone())));
            rsp.results.push(fatal(mistakes));
            return Ok(rsp);
        }
    };
    if let Some(meta) = rsp.meta.as_mut() {
        meta.ttl = Some(to_proto_duration(settings.ttl.unwrap_or(default_ttl)));
    }

    let observed = req
        .observed
        .as_ref()
        .map(|o| observed::observed_resources(&o.resources))
        .unwrap_or_default();
    let port = spec.service.enabled.then_some(spec.port);
    let consumer = spec.nats.durable_consumer.is_some();
    let report = observed::report(
        &observed,
        xr.status,
        settings.output,
        &placement,
        port,
        consumer,
    );
    let config = config_hash::config(&spec, &placement.namespace, req);
    // Until every referenced object is in hand, the pods keep the hash they have.
    let hash = match &config.requirements {
        Some(_) => config
            .hash
            .as_deref()
            .or_else(|| observed::config_hash(&observed, settings.output)),
        None => None,
    };
    rsp.requirements = config.requirements;

    // The scale-up storm guard: KEDA 2.18 reads a consumer that does not exist as the stream's
    // whole backlog and scales to maxReplicas, so while the consumer the claim declares is not
    // Ready, KEDA is held where the worker is (at minReplicas before the first scale). A claim
    // that pauses scaling itself needs no guard: its own pause wins.
    let consumer_ready = report.ready.get(compose::CONSUMER) == Some(&Ready::True);
    let hold = (consumer && !consumer_ready && !spec.scaling.paused).then(|| {
        observed::current_replicas(&observed, settings.output)
            .unwrap_or(i64::from(spec.scaling.min_replicas))
    });

    let desired = rsp.desired.get_or_insert_with(State::default);
    for (key, resource) in compose::compose(&spec, &settings, &placement, hash, hold) {
        let entry = desired.resources.entry(key.to_string()).or_default();
        entry.resource = Some(resource);
        // Connection details stay as they were, and so does a readiness an earlier step set.
        if entry.ready() == Ready::Unspecified {
            if let Some(ready) = report.ready.get(key) {
                entry.set_ready(*ready);
            }
        }
    }
    set_status(desired, report.status);
    let (advice, warnings) = warnings::advise(&spec, &settings, &config.missing, hold, xr.status);
    rsp.conditions = report.conditions;
    rsp.conditions.extend(advice);
    rsp.conditions
        .extend(observed::spec_validity(xr.status, None));
    rsp.results.extend(report.events);
    rsp.results.extend(warnings);
    Ok(rsp)
}

/// Reads the EventDrivenService a request carries: its observed XR and the function Input.
/// The outer error is a request that is not well formed; the inner one every mistake in the
/// XR and Input, which [`run`] answers with a Fatal result.
pub fn read(
    req: &RunFunctionRequest,
) -> Result<Result<EventDrivenService, Vec<FieldError>>, Malformed> {
    let xr = observed_composite(req).ok_or(Malformed::NoObservedComposite)?;
    Ok(read_composite(xr, req))
}

fn read_composite(
    xr: ObjectParts<'_, PbValue>,
    req: &RunFunctionRequest,
) -> Result<EventDrivenService, Vec<FieldError>> {
    // JSON once: the spec, the metadata and the Input are read through serde.
    let input = req.input.as_ref().map(convert::struct_to_json);
    let spec = xr.spec.map(convert::value_to_json);
    let metadata = xr.metadata.map(convert::value_to_json);
    EventDrivenService::read(spec, metadata.as_ref(), input.as_ref())
}

fn observed_composite(req: &RunFunctionRequest) -> Option<ObjectParts<'_, PbValue>> {
    req.observed
        .as_ref()
        .and_then(|o| o.composite.as_ref())
        .and_then(|c| c.resource.as_ref())
        .map(ObjectParts::of_struct)
}

/// Merges our fields into the desired XR status, keeping what earlier steps set there.
fn set_status(desired: &mut State, ours: serde_json::Map<String, Value>) {
    let xr = desired
        .composite
        .get_or_insert_with(Default::default)
        .resource
        .get_or_insert_with(Default::default);
    convert::merge_into(xr, "status", &ours);
}

/// The single Fatal result listing every offending field.
fn fatal(message: String) -> PbResult {
    PbResult {
        severity: Severity::Fatal.into(),
        message,
        reason: Some(observed::REASON_INVALID.to_string()),
        target: Some(Target::CompositeAndClaim.into()),
    }
}

fn to_proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or_default(),
    }
}
