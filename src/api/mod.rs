//! The EventDrivenService API and the function Input: parsing, defaults and rules.

pub(crate) mod field_error;
pub mod input;
pub(crate) mod placement;
pub(crate) mod rules;
pub mod schema;
pub mod spec;
mod structural;
mod wording;

use crate::document::tree::{ObjectParts, Tree};
pub use field_error::FieldError;
use input::{Output, Settings};
pub use placement::{Placement, Scope};
pub use rules::RESERVED_ENV;
use serde_json::Value;
use spec::Spec;

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
    /// Reads the Input, the spec and the placement of an XR, collecting every mistake in all
    /// three, sorted by path. The server and the offline CLI both decide validity here.
    pub fn read<N: Tree>(
        xr: ObjectParts<'_, N>,
        input: Option<&Value>,
    ) -> Result<Self, Vec<FieldError>> {
        let settings = Settings::from_input(input);
        let spec = match xr.spec {
            Some(spec) => Spec::parse(spec),
            None => Err(vec![FieldError::new("spec", "required")]),
        };
        let placement = Placement::from_metadata(xr.metadata);
        let mut errors: Vec<FieldError> = match (settings, spec, placement) {
            (Ok(settings), Ok(spec), Ok(placement)) => {
                match output_problem(&settings, &placement) {
                    None => {
                        return Ok(Self {
                            spec,
                            settings,
                            placement,
                        })
                    }
                    Some(error) => vec![error],
                }
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
