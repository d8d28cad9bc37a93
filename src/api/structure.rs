//! The structural check of a spec or an Input: the jsonschema crate against the JSON Schema
//! generated from the types, every mistake at once, each told in words a user can act on
//! (what is expected, what was given, and "did you mean" for a misspelt field).

use crate::api::{field_error::FieldError, pattern_words};
use jsonschema::{error::ValidationErrorKind, Validator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Reads `document` as a `T`: its structure against the schema, then serde, then `rules` over
/// the typed value. A valid document pays for one schema pass and one serde pass. An invalid
/// one gets every mistake at once: the structural ones, then the rules' over a copy whose
/// refused fields are replaced by placeholders, leaving out what the rules say about those
/// fields (each mistake is told once, by the check that states it best).
pub fn read<T: DeserializeOwned>(
    structure: &Structure,
    document: &Value,
    root: &str,
    rules: impl Fn(&T) -> Vec<FieldError>,
) -> Result<T, Vec<FieldError>> {
    if structure.is_valid(document) {
        if let Ok(typed) = T::deserialize(document) {
            let errors = rules(&typed);
            return if errors.is_empty() {
                Ok(typed)
            } else {
                Err(errors)
            };
        }
    }
    let mut errors = structure.check(document, root);
    match T::deserialize(&structure.repaired(document)) {
        Ok(typed) => {
            let touched: Vec<String> = errors.iter().map(|e| e.path.clone()).collect();
            let about_refused = |e: &FieldError| {
                touched.iter().any(|t| {
                    e.path == *t
                        || e.path.starts_with(&format!("{t}."))
                        || e.path.starts_with(&format!("{t}["))
                        || e.message.contains(t.as_str())
                })
            };
            errors.extend(rules(&typed).into_iter().filter(|e| !about_refused(e)));
        }
        // The schema accepted what serde refuses: only a type the schema leaves open (a
        // Kubernetes Affinity) or a value out of a Rust type's range gets here.
        Err(e) if errors.is_empty() => errors.push(FieldError::new(root, e.to_string())),
        Err(_) => {}
    }
    Err(errors)
}

/// A compiled schema and the schema itself, which the messages read bounds and fields from.
pub struct Structure {
    schema: Value,
    validator: Validator,
}

/// `read`'s outcome with one more mistake found beside it, if any.
pub fn also<T>(
    read: Result<T, Vec<FieldError>>,
    more: Option<FieldError>,
) -> Result<T, Vec<FieldError>> {
    match (read, more) {
        (read, None) => read,
        (Ok(_), Some(problem)) => Err(vec![problem]),
        (Err(mut errors), Some(problem)) => {
            errors.push(problem);
            Err(errors)
        }
    }
}

impl Structure {
    /// Compiles a JSON Schema generated from the types; a test proves each one compiles.
    pub fn new(schema: Value) -> Self {
        let validator = jsonschema::draft7::new(&schema)
            .unwrap_or_else(|e| unreachable!("a generated schema that does not compile: {e}"));
        Self { schema, validator }
    }

    /// Whether `document` has no structural mistake: the cheap test every valid call pays.
    pub fn is_valid(&self, document: &Value) -> bool {
        self.validator.is_valid(document)
    }

    /// Every mistake in `document`, whose path is `root` (`spec`, `input`); one per field.
    pub fn check(&self, document: &Value, root: &str) -> Vec<FieldError> {
        let mut errors: Vec<FieldError> = Vec::new();
        for error in self.validator.iter_errors(document) {
            let at = Place::of(document, error.instance_path().as_str(), root);
            let keyword_parent = parent_pointer(error.schema_path().as_str());
            let node = self.schema.pointer(keyword_parent).unwrap_or(&Value::Null);
            let found = match error.kind() {
                ValidationErrorKind::Required { property } => {
                    let key = property.as_str().unwrap_or_default();
                    vec![FieldError::new(format!("{}.{key}", at.path), "required")]
                }
                ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
                    .iter()
                    .map(|key| FieldError::new(format!("{}.{key}", at.path), unknown(key, node)))
                    .collect(),
                _ => vec![FieldError::new(
                    at.path.clone(),
                    message(error.instance(), node, &at.shape),
                )],
            };
            for new in found {
                // One message per field: a string that breaks its pattern and its length is
                // told about the first, as `message` ranks them.
                if !errors.iter().any(|e| e.path == new.path) {
                    errors.push(new);
                }
            }
        }
        errors
    }

    /// A copy of `document` that serde can read: each refused value replaced by a placeholder
    /// of its schema's type, each missing required field filled in, each unknown field gone.
    fn repaired(&self, document: &Value) -> Value {
        let fixes: Vec<(String, Option<String>, Option<Value>)> =
            self.validator
                .iter_errors(document)
                .flat_map(|error| {
                    let pointer = error.instance_path().as_str().to_string();
                    let node = self
                        .schema
                        .pointer(parent_pointer(error.schema_path().as_str()))
                        .unwrap_or(&Value::Null);
                    match error.kind() {
                        ValidationErrorKind::Required { property } => {
                            let key = property.as_str().unwrap_or_default().to_string();
                            let value = placeholder(node.pointer(&format!("/properties/{key}")));
                            vec![(pointer, Some(key), Some(value))]
                        }
                        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
                            .iter()
                            .map(|key| (pointer.clone(), Some(key.clone()), None))
                            .collect(),
                        _ => {
                            // An optional field goes, and serde gives it its default; a required
                            // one, or a list item, gets a placeholder.
                            let node_pointer = parent_pointer(error.schema_path().as_str());
                            let optional = node_pointer.rsplit_once("/properties/").and_then(
                                |(object, key)| {
                                    let required = self.schema.pointer(object)?.get("required");
                                    let listed = required
                                        .and_then(Value::as_array)
                                        .is_some_and(|r| r.iter().any(|k| k == key));
                                    let (parent, _) = pointer.rsplit_once('/')?;
                                    (!listed).then(|| (parent.to_string(), key.to_string()))
                                },
                            );
                            match optional {
                                Some((parent, key)) => vec![(parent, Some(key), None)],
                                None => vec![(pointer, None, Some(placeholder(Some(node))))],
                            }
                        }
                    }
                })
                .collect();
        let mut repaired = document.clone();
        for (pointer, key, value) in fixes {
            let Some(at) = repaired.pointer_mut(&pointer) else {
                continue;
            };
            match (key, value, at) {
                (Some(key), Some(value), Value::Object(map)) => drop(map.insert(key, value)),
                (Some(key), None, Value::Object(map)) => drop(map.remove(&key)),
                (None, Some(value), at) => *at = value,
                _ => {}
            }
        }
        repaired
    }
}

/// A value of the schema's type that serde reads: the first enum member, the lower bound, an
/// empty string or list, or an object of placeholders for its required fields.
fn placeholder(node: Option<&Value>) -> Value {
    let node = node.unwrap_or(&Value::Null);
    if let Some(first) = node.pointer("/enum/0") {
        return first.clone();
    }
    let required = || -> Map<String, Value> {
        let names = node.get("required").and_then(Value::as_array);
        names
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|k| {
                (
                    k.to_string(),
                    placeholder(node.pointer(&format!("/properties/{k}"))),
                )
            })
            .collect()
    };
    match expected_type(node) {
        "a string" => Value::String(String::new()),
        "a whole number" | "a whole number or a string" | "a number" => {
            node.get("minimum").cloned().unwrap_or(Value::from(0))
        }
        "true or false" => Value::Bool(false),
        "a list" => Value::Array(Vec::new()),
        _ => Value::Object(required()),
    }
}

/// Where a value sits: its path for messages (`spec.files[0].mountPath`) and its shape for the
/// pattern words (`files[].mountPath`).
struct Place {
    path: String,
    shape: String,
}

impl Place {
    fn of(document: &Value, pointer: &str, root: &str) -> Self {
        let mut place = Place {
            path: root.to_string(),
            shape: String::new(),
        };
        let mut node = document;
        for raw in pointer.split('/').skip(1) {
            let key = raw.replace("~1", "/").replace("~0", "~");
            match node {
                Value::Array(items) => {
                    place.path.push_str(&format!("[{key}]"));
                    place.shape.push_str("[]");
                    node = key
                        .parse()
                        .ok()
                        .and_then(|i: usize| items.get(i))
                        .unwrap_or(&Value::Null);
                }
                _ => {
                    place.path.push('.');
                    place.path.push_str(&key);
                    if !place.shape.is_empty() {
                        place.shape.push('.');
                    }
                    place.shape.push_str(&key);
                    node = node.get(&key).unwrap_or(&Value::Null);
                }
            }
        }
        place
    }
}

/// The schema node a keyword belongs to: its pointer without the keyword.
fn parent_pointer(schema_path: &str) -> &str {
    schema_path
        .rsplit_once('/')
        .map_or("", |(parent, _)| parent)
}

/// The words for a misspelt or unknown field, with the field it most likely meant.
fn unknown(key: &str, node: &Value) -> String {
    let known: Vec<&str> = node
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let guess = closest(key, &known)
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    format!(
        "unknown field{guess}; expected one of: {}",
        known.join(", ")
    )
}

/// What is wrong with `value` against the schema `node`: the type first, then for a string its
/// emptiness, the enum, the pattern and the length, for a number its bounds, for a list or a
/// map its size.
fn message(value: &Value, node: &Value, shape: &str) -> String {
    let expected = expected_type(node);
    match value {
        Value::String(s) if accepts(node, "string") => string_message(s, node, shape),
        Value::Number(n) if accepts(node, "integer") => match n.as_i64() {
            Some(n) => {
                let bound = |key| node.get(key).and_then(Value::as_i64);
                let (min, max) = (bound("minimum"), bound("maximum"));
                format!(
                    "must be between {} and {} (got {n})",
                    min.unwrap_or(i64::MIN),
                    max.unwrap_or(i64::MAX)
                )
            }
            None => format!("must be a whole number (got {n})"),
        },
        Value::Array(items) if accepts(node, "array") => {
            let count = items.len();
            match node.get("maxItems").and_then(Value::as_u64) {
                Some(max) if count as u64 > max => {
                    format!("must have at most {max} items (got {count})")
                }
                _ => format!(
                    "must have at least {} items (got {count})",
                    node.get("minItems").and_then(Value::as_u64).unwrap_or(0)
                ),
            }
        }
        Value::Object(map) if accepts(node, "object") => format!(
            "must have at most {} entries (got {})",
            node.get("maxProperties")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            map.len()
        ),
        other => format!("must be {expected} (got {})", kind(other)),
    }
}

/// One message per string, the most telling first: emptiness, the enum, the pattern, the
/// length.
fn string_message(s: &str, node: &Value, shape: &str) -> String {
    let members = node.get("enum").and_then(Value::as_array);
    let pattern = node
        .get("pattern")
        .and_then(Value::as_str)
        .and_then(|p| regex::Regex::new(p).ok());
    let listed = |s: &str| members.is_none_or(|m| m.iter().any(|v| v.as_str() == Some(s)));
    let matches = |s: &str| pattern.as_ref().is_none_or(|p| p.is_match(s));
    let limit = |key| node.get(key).and_then(Value::as_u64);
    let length = s.chars().count() as u64;
    if s.is_empty() && (!listed("") || !matches("") || limit("minLength").is_some_and(|m| m > 0)) {
        "must not be empty".to_string()
    } else if !listed(s) {
        let names: Vec<String> = members
            .into_iter()
            .flatten()
            .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
            .collect();
        format!("must be one of {} (got {s:?})", names.join(", "))
    } else if let Some(pattern) = pattern.as_ref().filter(|_| !matches(s)) {
        match pattern_words::of_pattern(shape) {
            Some(wording) => format!("must be {wording} (got {s:?})"),
            None => format!("must match the pattern {} (got {s:?})", pattern.as_str()),
        }
    } else if let Some(max) = limit("maxLength").filter(|max| length > *max) {
        format!("must be at most {max} characters (got {length})")
    } else {
        let min = limit("minLength").unwrap_or(0);
        format!("must be at least {min} characters (got {length})")
    }
}

/// Whether the schema's `type` includes `name`.
fn accepts(node: &Value, name: &str) -> bool {
    match node.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}

/// The schema's type in words.
fn expected_type(node: &Value) -> &'static str {
    if accepts(node, "integer") && accepts(node, "string") {
        return "a whole number or a string";
    }
    match node.get("type").and_then(Value::as_str) {
        Some("object") => "an object",
        Some("array") => "a list",
        Some("string") => "a string",
        Some("integer") => "a whole number",
        Some("boolean") => "true or false",
        _ => "a number",
    }
}

/// What a value is, in words.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// How alike a misspelt field and a known one must be (Jaro-Winkler) to be offered: high enough
/// that `colour` suggests nothing among the Input's defaults, low enough that `consumerGroup`
/// finds `consumer` and `sise` finds `size`.
const LIKENESS: f64 = 0.8;

/// The known name a misspelt one most likely meant, if any is close: a field in a claim, an
/// account on a NATS server.
pub fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&key, &k.to_ascii_lowercase()), *k))
        .filter(|(likeness, _)| *likeness >= LIKENESS)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Removes an object's null fields, at every depth: Kubernetes counts a null field as absent,
/// and so does the function. Items of a list are kept, their own fields pruned.
pub fn prune_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
    map.values_mut().for_each(prune);
}

fn prune(value: &mut Value) {
    match value {
        Value::Object(map) => prune_nulls(map),
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}
#[cfg(test)]
mod tests {
    use crate::api::definition;

    #[test]
    fn the_generated_schemas_compile() {
        for schema in [
            definition::spec_json_schema(),
            definition::input_json_schema(),
        ] {
            assert!(jsonschema::draft7::new(&schema).is_ok());
        }
    }
}
