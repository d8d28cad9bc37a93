//! A mistake in user input, tied to the field it was found in.

use std::fmt;

/// One offending field: its dotted path (`spec.nats.stream`) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldError {
    /// Dotted path with list indexes, e.g. `spec.secretRefs[2].env[0].envName`.
    pub path: String,
    /// What is wrong and what is expected, e.g. `required` or `must be one of small, medium, large (got "xlarge")`.
    pub message: String,
}

impl FieldError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Joins errors into the single message of a Fatal result, one `path: message` per line.
pub fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
