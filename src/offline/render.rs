//! Offline rendering: the same `function::run` the server calls, fed from YAML documents.

use crate::{
    api::field_error::FieldError,
    api::placement::{CLAIM_NAMESPACE_LABEL, CLAIM_NAME_LABEL},
    document::convert,
    function,
    proto::v1::{
        resource_selector::Match, Capability, RequestMeta, Resource, ResourceSelector, Resources,
        RunFunctionRequest, RunFunctionResponse, Severity, State, Status,
    },
};
use serde_json::{json, Map, Value};
use std::{collections::BTreeMap, time::Duration};

/// API version of claims and XRs.
pub const API_VERSION: &str = "platform.bizmatters.io/v1alpha1";
/// Kind of a claim (Crossplane v1) or of a namespaced XR (Crossplane v2).
pub const CLAIM_KIND: &str = "EventDrivenService";
/// Kind of a Crossplane v1 composite resource.
pub const XR_KIND: &str = "XEventDrivenService";
/// Annotation naming the composed resource's key, as Crossplane sets it.
pub const RESOURCE_NAME_ANNOTATION: &str = "crossplane.io/composition-resource-name";
/// The time offline conditions carry: a render has no clock, and `crossplane render` stamps
/// every condition with this same instant, so both renders agree and stay reproducible.
pub const TRANSITION_TIME: &str = "2024-01-01T00:00:00Z";
/// Namespace kubectl gives a claim that names none.
const DEFAULT_NAMESPACE: &str = "default";

/// What one claim or XR composes.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The XR with the status the function would set.
    pub composite: Value,
    /// Desired composed resources by composition resource name, in key order.
    pub resources: Vec<(String, Value)>,
    /// Readiness the function set per key (`READY_TRUE`, `READY_FALSE`), where it set one.
    pub ready: BTreeMap<String, String>,
    /// Events the function would emit.
    pub messages: Vec<String>,
}

/// Whether a document is an EventDrivenService claim or XR, the only kinds we render.
pub fn is_ours(document: &Value) -> bool {
    document.get("apiVersion").and_then(Value::as_str) == Some(API_VERSION)
        && matches!(
            document.get("kind").and_then(Value::as_str),
            Some(CLAIM_KIND | XR_KIND)
        )
}

/// The XR Crossplane would create for `document`: a claim becomes a cluster-scoped XR
/// labelled with the claim's name and namespace; an XR is taken as it is.
pub fn to_composite(document: &Value, namespaced: bool) -> Result<Value, Vec<FieldError>> {
    let kind = document
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let api_version = document
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut errors = Vec::new();
    if api_version != API_VERSION {
        errors.push(FieldError::new(
            "apiVersion",
            format!("must be {API_VERSION} (got {api_version:?})"),
        ));
    }
    if kind != CLAIM_KIND && kind != XR_KIND {
        errors.push(FieldError::new(
            "kind",
            format!("must be {CLAIM_KIND} (a claim) or {XR_KIND} (an XR) (got {kind:?})"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if kind == XR_KIND || namespaced {
        return Ok(document.clone());
    }
    let metadata = document.get("metadata");
    let text = |key| metadata.and_then(|m| m.get(key)).and_then(Value::as_str);
    let name = text("name").unwrap_or_default();
    let namespace = text("namespace").unwrap_or(DEFAULT_NAMESPACE);
    Ok(json!({
        "apiVersion": API_VERSION,
        "kind": XR_KIND,
        "metadata": {
            "name": name,
            "labels": {
                CLAIM_NAME_LABEL: name,
                CLAIM_NAMESPACE_LABEL: namespace,
                "crossplane.io/composite": name,
            },
        },
        "spec": document.get("spec").cloned().unwrap_or(Value::Null),
    }))
}

/// The XR of a claim or XR document, carrying the status of the observed XR if `observed`
/// holds one (the status and conditions of the previous reconcile).
pub fn observed_composite(
    document: &Value,
    observed: &[Value],
    namespaced: bool,
) -> Result<Value, Vec<FieldError>> {
    let mut xr = to_composite(document, namespaced)?;
    let status = observed
        .iter()
        .filter(|d| is_ours(d))
        .find_map(|d| d.get("status"));
    if let (Some(status), Some(map)) = (status, xr.as_object_mut()) {
        map.insert("status".into(), status.clone());
    }
    Ok(xr)
}

/// The RunFunctionRequest Crossplane would send for an XR: the XR, the function Input, and the
/// observed composed resources, each keyed by its `crossplane.io/composition-resource-name`
/// annotation (an observed XR among them is left out: [`observed_composite`] reads it).
pub fn request(
    xr: &Value,
    input: Option<&Value>,
    observed: &[Value],
) -> Result<RunFunctionRequest, Vec<FieldError>> {
    let mut resources = BTreeMap::new();
    for (i, doc) in observed.iter().enumerate() {
        if is_ours(doc) {
            continue;
        }
        let key = doc
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(RESOURCE_NAME_ANNOTATION))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                vec![FieldError::new(
                    format!("observed[{i}].metadata.annotations[{RESOURCE_NAME_ANNOTATION}]"),
                    "required: it names the composed resource (serviceaccount, deployment, service or scaledobject)",
                )]
            })?;
        resources.insert(
            key.to_string(),
            Resource {
                resource: Some(convert::json_to_struct(doc)),
                ..Default::default()
            },
        );
    }
    Ok(RunFunctionRequest {
        // What current Crossplane announces, so the function asks for required resources as
        // it would in a cluster.
        meta: Some(RequestMeta {
            capabilities: [
                Capability::Capabilities,
                Capability::RequiredResources,
                Capability::Conditions,
            ]
            .map(i32::from)
            .to_vec(),
            ..Default::default()
        }),
        observed: Some(State {
            composite: Some(Resource {
                resource: Some(convert::json_to_struct(xr)),
                ..Default::default()
            }),
            resources,
        }),
        input: input.map(convert::json_to_struct),
        ..Default::default()
    })
}

/// Every mistake in a request's XR and Input, read exactly as [`function::run`] reads them.
pub fn check(request: &RunFunctionRequest) -> Result<(), Vec<FieldError>> {
    function::read(request)
        .map_err(|malformed| vec![FieldError::new("metadata", malformed.to_string())])?
        .map(|_| ())
}

/// Renders a claim or XR, with an optional function Input and observed composed resources
/// (each carrying its `crossplane.io/composition-resource-name` annotation, plus optionally
/// the observed XR itself); every mistake comes back with its field path.
pub fn render(
    document: &Value,
    input: Option<&Value>,
    observed: &[Value],
) -> Result<Rendered, Vec<FieldError>> {
    render_as(document, input, observed, &[], false)
}

/// [`render`], with the objects the cluster holds for the function's required resources
/// (`required`), and choosing whether a `kind: EventDrivenService` document is a Crossplane v2
/// namespaced XR (`true`) or a v1 claim (`false`).
pub fn render_as(
    document: &Value,
    input: Option<&Value>,
    observed: &[Value],
    required: &[Value],
    namespaced: bool,
) -> Result<Rendered, Vec<FieldError>> {
    let mut xr = observed_composite(document, observed, namespaced)?;
    let mut req = request(&xr, input, observed)?;
    // The mistakes with their paths; `run` would report the same ones as one Fatal result.
    check(&req)?;
    let rsp = run_to_requirements(&mut req, required)?;
    if let Some(fatal) = rsp.results.iter().find(|r| r.severity() == Severity::Fatal) {
        // `check` accepted the input, so this is unreachable in practice; report it all the same.
        return Err(vec![FieldError::new("spec", fatal.message.clone())]);
    }

    let desired = rsp.desired.unwrap_or_default();
    if let Some(status) = desired
        .composite
        .and_then(|c| c.resource)
        .map(|s| convert::struct_to_json(&s))
        .and_then(|c| c.get("status").cloned())
    {
        if let Some(map) = xr.as_object_mut() {
            let merged = merge(map.get("status"), &status);
            map.insert("status".into(), merged);
        }
    }
    let mut ready = BTreeMap::new();
    let resources = desired
        .resources
        .into_iter()
        .map(|(key, resource)| {
            if resource.ready() != crate::proto::v1::Ready::Unspecified {
                ready.insert(key.clone(), resource.ready().as_str_name().to_string());
            }
            let mut value = resource
                .resource
                .map(|s| convert::struct_to_json(&s))
                .unwrap_or_default();
            annotate(&mut value, &key);
            (key, value)
        })
        .collect();
    // Conditions land on the XR as Crossplane writes them, so the output reads like
    // `kubectl get -o yaml` and passes the XR's CRD, which requires lastTransitionTime.
    let conditions: Vec<Value> = rsp
        .conditions
        .iter()
        .map(|c| {
            let mut condition = json!({
                "type": c.r#type,
                "status": match c.status() {
                    Status::ConditionTrue => "True",
                    Status::ConditionFalse => "False",
                    _ => "Unknown",
                },
                "reason": c.reason,
                "lastTransitionTime": TRANSITION_TIME,
            });
            if let Some(message) = c.message.as_ref().filter(|m| !m.is_empty()) {
                condition["message"] = json!(message);
            }
            condition
        })
        .collect();
    if let Some(status) = xr
        .as_object_mut()
        .map(|m| m.entry("status").or_insert_with(|| json!({})))
    {
        if let Some(status) = status.as_object_mut() {
            let mut merged: Vec<Value> = status
                .get("conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|old| {
                    !conditions
                        .iter()
                        .any(|new| new.get("type") == old.get("type"))
                })
                .cloned()
                .collect();
            merged.extend(conditions);
            status.insert("conditions".into(), Value::Array(merged));
        }
    }
    let messages = rsp
        .results
        .iter()
        .map(|r| {
            format!(
                "event {} {}: {}",
                r.severity().as_str_name().trim_start_matches("SEVERITY_"),
                r.reason.as_deref().unwrap_or_default(),
                r.message
            )
        })
        .collect();
    Ok(Rendered {
        composite: xr,
        resources,
        ready,
        messages,
    })
}

/// Runs the function as Crossplane does: while it asks for other objects, answers with those
/// of `required` that match (an empty answer for one that is absent) and runs it again, until
/// it asks for nothing new.
fn run_to_requirements(
    req: &mut RunFunctionRequest,
    required: &[Value],
) -> Result<RunFunctionResponse, Vec<FieldError>> {
    let run = |req: &RunFunctionRequest| {
        function::run(req, Duration::from_secs(60))
            .map_err(|e| vec![FieldError::new("metadata", e.to_string())])
    };
    let mut rsp = run(req)?;
    // Crossplane's own bound on the loop.
    for _ in 0..MAX_REQUIREMENT_ROUNDS {
        let Some(asked) = rsp
            .requirements
            .clone()
            .filter(|r| !r.resources.is_empty() || !r.extra_resources.is_empty())
        else {
            break;
        };
        req.required_resources = answer(&asked.resources, required);
        req.extra_resources = answer(&asked.extra_resources, required);
        let next = run(req)?;
        let settled = next.requirements == rsp.requirements;
        rsp = next;
        if settled {
            break;
        }
    }
    Ok(rsp)
}

/// How many times Crossplane runs a function again for its requirements.
const MAX_REQUIREMENT_ROUNDS: usize = 5;

/// The objects of `required` each selector names, by the selector's key.
fn answer(
    selectors: &BTreeMap<String, ResourceSelector>,
    required: &[Value],
) -> BTreeMap<String, Resources> {
    selectors
        .iter()
        .map(|(key, selector)| {
            let text = |doc: &Value, pointer: &str| {
                doc.pointer(pointer)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let items = required
                .iter()
                .filter(|doc| {
                    text(doc, "/apiVersion").as_deref() == Some(selector.api_version.as_str())
                        && text(doc, "/kind").as_deref() == Some(selector.kind.as_str())
                        && text(doc, "/metadata/namespace") == selector.namespace
                        && match &selector.r#match {
                            Some(Match::MatchName(name)) => {
                                text(doc, "/metadata/name").as_deref() == Some(name.as_str())
                            }
                            Some(Match::MatchLabels(wanted)) => {
                                wanted.labels.iter().all(|(k, v)| {
                                    doc.pointer("/metadata/labels")
                                        .and_then(|l| l.get(k))
                                        .and_then(Value::as_str)
                                        == Some(v.as_str())
                                })
                            }
                            None => true,
                        }
                })
                .map(|doc| Resource {
                    resource: Some(convert::json_to_struct(doc)),
                    ..Default::default()
                })
                .collect();
            (key.clone(), Resources { items })
        })
        .collect()
}

/// The observed status overlaid with what the function set.
fn merge(observed: Option<&Value>, desired: &Value) -> Value {
    let mut out: Map<String, Value> = observed
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(desired) = desired.as_object() {
        out.extend(desired.clone());
    }
    Value::Object(out)
}

/// Adds the annotation Crossplane puts on every composed resource, as `crossplane render` does.
fn annotate(resource: &mut Value, key: &str) {
    let Some(map) = resource.as_object_mut() else {
        return;
    };
    let mut metadata = map.remove("metadata").unwrap_or_else(|| json!({}));
    if let Some(m) = metadata.as_object_mut() {
        let annotations = m.entry("annotations").or_insert_with(|| json!({}));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(RESOURCE_NAME_ANNOTATION.into(), Value::String(key.into()));
        }
    }
    // Keep `metadata` right after `apiVersion` and `kind`, where readers look for it.
    let rest = std::mem::take(map);
    for (k, v) in rest {
        if k != "apiVersion" && k != "kind" && !map.contains_key("metadata") {
            map.insert("metadata".into(), std::mem::take(&mut metadata));
        }
        map.insert(k, v);
    }
    if !map.contains_key("metadata") {
        map.insert("metadata".into(), metadata);
    }
}
