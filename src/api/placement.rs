//! Where the composed resources go: their name and namespace, read from the observed XR.

use crate::api::field_error::FieldError;
use serde_json::Value;

/// Label Crossplane sets on a claim's XR to the claim's name.
pub const CLAIM_NAME_LABEL: &str = "crossplane.io/claim-name";
/// Label Crossplane sets on a claim's XR to the claim's namespace.
pub const CLAIM_NAMESPACE_LABEL: &str = "crossplane.io/claim-namespace";

/// How the XR reached us, which decides the Object flavour and naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Crossplane v1: a cluster-scoped XR bound to a namespaced claim.
    Claim,
    /// Crossplane v2: a namespaced XR.
    Namespaced,
}

/// Name and namespace of the four resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Name of the Deployment, Service and ServiceAccount (the ScaledObject adds `-scaler`).
    pub name: String,
    /// Namespace of all four.
    pub namespace: String,
    /// How the XR reached us.
    pub scope: Scope,
}

/// Longest ScaledObject name KEDA accepts (it creates the HPA `keda-hpa-<name>`).
pub const MAX_SCALED_OBJECT_NAME: usize = 54;
/// Suffix of the ScaledObject's name.
pub const SCALER_SUFFIX: &str = "-scaler";

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

impl Placement {
    /// Reads the placement from the observed XR's metadata, or says which field is missing
    /// or wrong.
    pub fn from_metadata(metadata: Option<&Value>) -> Result<Self, Vec<FieldError>> {
        let labels = metadata.and_then(|m| m.get("labels"));
        let claim_name = text(labels.and_then(|l| l.get(CLAIM_NAME_LABEL)));
        let claim_namespace = text(labels.and_then(|l| l.get(CLAIM_NAMESPACE_LABEL)));
        let xr_name = text(metadata.and_then(|m| m.get("name")));
        let xr_namespace = text(metadata.and_then(|m| m.get("namespace")));

        let (name, namespace, scope, name_path) = match (claim_name, claim_namespace, xr_namespace) {
            (Some(name), Some(namespace), _) => (
                name,
                namespace,
                Scope::Claim,
                // The claim's own name; the user wrote it as the claim's metadata.name.
                "metadata.name".to_string(),
            ),
            (_, _, Some(namespace)) => match xr_name {
                Some(name) => (name, namespace, Scope::Namespaced, "metadata.name".to_string()),
                None => return Err(vec![FieldError::new("metadata.name", "required")]),
            },
            _ => {
                return Err(vec![FieldError::new(
                    "metadata",
                    format!(
                        "cannot tell where to create the resources: the XR is cluster-scoped and has no \
                         {CLAIM_NAME_LABEL} and {CLAIM_NAMESPACE_LABEL} labels; create it through an \
                         EventDrivenService claim, or use a namespaced (Crossplane v2) XR"
                    ),
                )])
            }
        };

        let mut errors = Vec::new();
        if let Some(problem) = dns1123_label_problem(name) {
            errors.push(FieldError::new(
                &name_path,
                format!("{problem} (got {name:?})"),
            ));
        } else if name.len() + SCALER_SUFFIX.len() > MAX_SCALED_OBJECT_NAME {
            errors.push(FieldError::new(
                &name_path,
                format!(
                    "must be at most {} characters so the ScaledObject name `<name>{SCALER_SUFFIX}` fits \
                     KEDA's limit of {MAX_SCALED_OBJECT_NAME} (got {} characters)",
                    MAX_SCALED_OBJECT_NAME - SCALER_SUFFIX.len(),
                    name.len()
                ),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name: name.to_string(),
            namespace: namespace.to_string(),
            scope,
        })
    }

    /// Name of the ScaledObject.
    pub fn scaler_name(&self) -> String {
        format!("{}{SCALER_SUFFIX}", self.name)
    }
}

/// Why `s` is not a DNS-1123 label (what a Service name must be), or `None` when it is one.
pub fn dns1123_label_problem(s: &str) -> Option<&'static str> {
    let bytes = s.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if s.is_empty() || s.len() > 63 {
        Some("must be 1 to 63 characters")
    } else if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        Some("must contain only lowercase letters, digits and '-'")
    } else if !edge_ok(bytes.first()) || !edge_ok(bytes.last()) {
        Some("must start and end with a lowercase letter or digit")
    } else {
        None
    }
}
