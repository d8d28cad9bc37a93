//! The composition function: one pure call from a RunFunction request to its response. No I/O.

use crate::{
    compose, convert,
    field_error::{self, FieldError},
    placement::{Placement, Scope},
    proto::v1::{
        Ready, ResponseMeta, Result as PbResult, RunFunctionRequest, RunFunctionResponse, Severity,
        State, Target,
    },
    settings::{Output, Settings},
    spec::Spec,
    status,
    tree::{Parts, Tree},
};
use serde_json::Value;
use std::time::Duration;

/// Reason of the Fatal result for invalid input.
pub const REASON_INVALID: &str = "InvalidSpec";

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
    let xr = req
        .observed
        .as_ref()
        .and_then(|o| o.composite.as_ref())
        .and_then(|c| c.resource.as_ref())
        .map(Parts::of_struct)
        .ok_or(Malformed::NoObservedComposite)?;

    let mut rsp = RunFunctionResponse {
        meta: Some(ResponseMeta {
            tag: req.meta.as_ref().map(|m| m.tag.clone()).unwrap_or_default(),
            ttl: Some(to_proto_duration(default_ttl)),
        }),
        desired: Some(req.desired.clone().unwrap_or_default()),
        context: req.context.clone(),
        ..Default::default()
    };

    let input = req.input.as_ref().map(convert::struct_to_json);
    let (settings, spec, placement) = match inputs(xr, input.as_ref()) {
        Ok(inputs) => inputs,
        Err(errors) => {
            rsp.results.push(fatal(&errors));
            return Ok(rsp);
        }
    };
    if let Some(meta) = rsp.meta.as_mut() {
        meta.ttl = Some(to_proto_duration(settings.ttl.unwrap_or(default_ttl)));
    }

    let observed = req
        .observed
        .as_ref()
        .map(|o| status::observed_resources(&o.resources))
        .unwrap_or_default();
    let report = status::report(&observed, xr.status, settings.output, &placement);

    let desired = rsp.desired.get_or_insert_with(State::default);
    for (key, resource) in compose::compose(&spec, &settings, &placement) {
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
    rsp.conditions = report.conditions;
    rsp.results.extend(report.events);
    Ok(rsp)
}

/// Reads the Input, the spec and the placement from the observed XR, collecting every mistake
/// in all three. The server and the offline CLI both decide validity here.
pub fn inputs<N: Tree>(
    xr: Parts<'_, N>,
    input: Option<&Value>,
) -> Result<(Settings, Spec, Placement), Vec<FieldError>> {
    let settings = Settings::from_input(input);
    let spec = match xr.spec {
        Some(spec) => Spec::parse(spec),
        None => Err(vec![FieldError::new("spec", "required")]),
    };
    let placement = Placement::from_metadata(xr.metadata);
    let mut errors: Vec<FieldError> = match (settings, spec, placement) {
        (Ok(settings), Ok(spec), Ok(placement)) => match check_output(&settings, &placement) {
            None => return Ok((settings, spec, placement)),
            Some(error) => vec![error],
        },
        (settings, spec, placement) => [settings.err(), spec.err(), placement.err()]
            .into_iter()
            .flatten()
            .flatten()
            .collect(),
    };
    errors.sort();
    errors.dedup();
    Err(errors)
}

/// Direct output composes namespaced kinds, which only a namespaced (Crossplane v2) XR may own.
fn check_output(settings: &Settings, placement: &Placement) -> Option<FieldError> {
    (settings.output == Output::Direct && placement.scope == Scope::Claim).then(|| {
        FieldError::new(
            "input.output",
            "Direct needs a namespaced (Crossplane v2) EventDrivenService; a claim's cluster-scoped XR \
             composes provider-kubernetes Objects, so use output: Objects",
        )
    })
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
fn fatal(errors: &[FieldError]) -> PbResult {
    PbResult {
        severity: Severity::Fatal.into(),
        message: format!(
            "cannot compose this EventDrivenService:\n{}",
            field_error::join(errors)
        ),
        reason: Some(REASON_INVALID.to_string()),
        target: Some(Target::CompositeAndClaim.into()),
    }
}

fn to_proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or_default(),
    }
}
