//! The EventDrivenService API and the function Input: parsing, defaults and rules.

pub mod definition;
pub(crate) mod field_error;
mod go_duration;
pub mod input;
mod pattern_words;
pub(crate) mod placement;
mod pod_rules;
pub(crate) mod rules;
mod scaling_rules;
mod settings;
pub mod spec;
mod status;
mod structure;

pub use field_error::FieldError;
use input::{Output, Settings};
pub use placement::{Placement, Scope};
pub use pod_rules::OWNED_LABELS;
pub use rules::RESERVED_ENV;
use serde_json::Value;
use spec::Spec;
use std::sync::LazyLock;
pub(crate) use structure::closest;
use structure::Structure;

/// The spec's schema, compiled once.
static SPEC: LazyLock<Structure> = LazyLock::new(|| Structure::new(definition::spec_json_schema()));

/// Everything composing one EventDrivenService needs, read from its XR and the function Input.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDrivenService {
    /// What the user asked for.
    pub spec: Spec,
    /// What the platform team set in the Input.
    pub settings: Settings,
    /// Where the composed resources go.
    pub placement: Placement,
}

impl EventDrivenService {
    /// Reads the Input, the spec and the placement (from the metadata) of an XR, collecting
    /// every mistake in all three, sorted by path. The server and the offline CLI both decide
    /// validity here.
    pub fn read(
        spec: Option<Value>,
        metadata: Option<&Value>,
        input: Option<&Value>,
    ) -> Result<Self, Vec<FieldError>> {
        let settings = Settings::from_input(input);
        let spec = read_spec(spec.unwrap_or(Value::Null));
        let placement = Placement::from_metadata(metadata);
        let mut errors: Vec<FieldError> = match (settings, spec, placement) {
            (Ok(settings), Ok(spec), Ok(placement)) => {
                let errors: Vec<_> = output_problem(&settings, &placement)
                    .into_iter()
                    .chain(platform_conflicts(&spec, &settings))
                    .collect();
                if errors.is_empty() {
                    return Ok(Self {
                        spec,
                        settings,
                        placement,
                    });
                }
                errors
            }
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
}

/// Checks a spec against its schema and the rules, returning every offending field at once,
/// and reads it with its defaults.
pub fn parse_spec(spec: &Value) -> Result<Spec, Vec<FieldError>> {
    read_spec(spec.clone())
}

/// [`parse_spec`] on a spec the caller hands over, pruned in place.
fn read_spec(mut document: Value) -> Result<Spec, Vec<FieldError>> {
    match &mut document {
        Value::Null => return Err(vec![FieldError::new("spec", "required")]),
        Value::Object(fields) => {
            structure::prune_nulls(fields);
            for ignored in definition::CROSSPLANE_SPEC_FIELDS {
                fields.remove(*ignored);
            }
        }
        _ => {}
    }
    // An Affinity is any object to the schema and a Kubernetes type to serde: it is checked
    // against that type here, and one that is wrong is told once and left out of the rest.
    let affinity = document
        .pointer("/scheduling/affinity")
        .and_then(|a| pod_rules::affinity_problem(a, "spec.scheduling.affinity"));
    if affinity.is_some() {
        if let Some(scheduling) = document
            .get_mut("scheduling")
            .and_then(Value::as_object_mut)
        {
            scheduling.remove("affinity");
        }
    }
    let read = structure::read(&SPEC, &document, "spec", |spec: &Spec| {
        let mut errors = rules::check(spec);
        errors.extend(pod_rules::check(spec));
        errors.extend(scaling_rules::check(spec));
        errors
    });
    structure::also(read, affinity)
}

/// Direct output composes namespaced kinds, which only a namespaced (Crossplane v2) XR may own.
fn output_problem(settings: &Settings, placement: &Placement) -> Option<FieldError> {
    (settings.output == Output::Direct && placement.scope == Scope::Claim).then(|| {
        FieldError::new(
            "input.output",
            "Direct needs a namespaced (Crossplane v2) EventDrivenService; a claim's cluster-scoped XR \
             composes provider-kubernetes Objects, so use output: Objects",
        )
    })
}

/// Kubernetes' grace period when neither the claim nor the platform sets one.
const DEFAULT_GRACE_PERIOD: i64 = 30;

/// The grace period the claim sets, or else the platform; `None` leaves Kubernetes' own.
pub(crate) fn chosen_grace_period(spec: &Spec, settings: &Settings) -> Option<i64> {
    spec.shutdown
        .grace_period_seconds
        .or(settings.defaults.shutdown.grace_period_seconds)
}

/// The seconds a stopping pod gets: the claim's, the platform's, or Kubernetes' 30.
pub(crate) fn grace_period_seconds(spec: &Spec, settings: &Settings) -> i64 {
    chosen_grace_period(spec, settings).unwrap_or(DEFAULT_GRACE_PERIOD)
}

/// The preStop sleep the claim sets, or else the platform, with the path of the field that set
/// it; `None` when neither does and the pod stops without one.
pub(crate) fn chosen_pre_stop_sleep(
    spec: &Spec,
    settings: &Settings,
) -> Option<(i64, &'static str)> {
    match spec.shutdown.pre_stop_sleep_seconds {
        Some(seconds) => Some((seconds, "spec.shutdown.preStopSleepSeconds")),
        None => settings
            .defaults
            .shutdown
            .pre_stop_sleep_seconds
            .map(|seconds| (seconds, "input.defaults.shutdown.preStopSleepSeconds")),
    }
}

/// Mistakes that only show once the claim's fields meet the platform's defaults: the spec and
/// the Input are each checked on their own before this.
fn platform_conflicts(spec: &Spec, settings: &Settings) -> Vec<FieldError> {
    let defaults = &settings.defaults;
    let mut errors = Vec::new();
    if spec.tmp_dirs.is_none() && !defaults.tmp_dirs.is_empty() {
        // The platform's directories first, so the claim's file is the one named.
        let mounts: Vec<_> = defaults
            .tmp_dirs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.clone(), format!("input.defaults.tmpDirs[{i}]")))
            .chain(
                spec.files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.mount_path.clone(), format!("spec.files[{i}].mountPath"))),
            )
            .collect();
        errors.extend(pod_rules::overlapping_mounts(&mounts));
    }
    let grace = grace_period_seconds(spec, settings);
    if let Some((sleep, sleep_path)) =
        chosen_pre_stop_sleep(spec, settings).filter(|(s, _)| *s >= grace)
    {
        errors.push(FieldError::new(
            sleep_path,
            format!(
                "must be shorter than the grace period ({sleep} >= {grace} seconds): the pod \
                 would be killed while sleeping; set shutdown.gracePeriodSeconds"
            ),
        ));
    }
    errors
}
