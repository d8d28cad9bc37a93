//! Offline rendering: the same `function::run` the server calls, fed from YAML files.

use crate::field_error::FieldError;
use serde_json::Value;

/// What one claim or XR composes.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The XR with the status and conditions the function would set.
    pub composite: Value,
    /// Desired composed resources by composition resource name, in key order.
    pub resources: Vec<(String, Value)>,
}

/// Renders a claim (`kind: EventDrivenService`) or XR, with an optional function Input and
/// observed composed resources; every mistake comes back with its field path.
pub fn render(
    _document: &Value,
    _input: Option<&Value>,
    _observed: &[Value],
) -> Result<Rendered, Vec<FieldError>> {
    Err(vec![FieldError::new("spec", "rendering is not wired yet")])
}
