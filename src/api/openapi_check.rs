//! Checks a document against a structural (OpenAPI v3) schema, the one a CRD or XRD carries,
//! and reports every mistake with its path, what is expected and what was given.
//!
//! The schemas are the API: the XRD for the spec, the Input CRD for the function Input. This
//! module knows only the schema keywords, never a field; the API server checks the same
//! keywords on a cluster. The Kubernetes extensions (CEL rules, unique keys of list-maps) are
//! left to `rules.rs`. JSON null counts as absent and a whole double as an integer, as they do
//! for Kubernetes.

use crate::{
    api::{field_error::FieldError, pattern_words},
    document::{
        openapi::{Schema, Type},
        tree::{Node, Tree},
    },
};
use std::fmt;

/// Every mistake in `document`, whose path is `root` (`spec`, `input`), against a compiled
/// schema. Top-level fields named in `ignored` belong to someone else and are let through
/// unchecked.
pub fn check<N: Tree>(
    schema: &Schema,
    document: &N,
    root: &str,
    ignored: &[&str],
) -> Vec<FieldError> {
    let mut walk = Walk {
        ignored,
        errors: Vec::new(),
    };
    walk.node(document, schema, &Path::Root(root));
    walk.errors
}

/// One walk over a document: the top-level fields to let through, and the mistakes found so
/// far.
struct Walk<'w> {
    ignored: &'w [&'w str],
    errors: Vec<FieldError>,
}

impl Walk<'_> {
    fn push(&mut self, path: &Path<'_>, message: impl Into<String>) {
        self.errors.push(FieldError::new(path.to_string(), message));
    }

    fn node<N: Tree>(&mut self, value: &N, schema: &Schema, path: &Path<'_>) {
        let expected = match (schema.kind, value.node()) {
            (Type::Object, Node::Object) => return self.object(value, schema, path),
            (Type::Array, Node::List(items)) => return self.list(items, schema, path),
            (Type::String, Node::String(s)) => return self.string(s, schema, path),
            (Type::Integer | Type::IntOrString, Node::Number(n)) => {
                return self.integer(n.as_f64(), schema, path)
            }
            (Type::IntOrString, Node::String(s)) => return self.string(s, schema, path),
            (Type::Number, Node::Number(_)) | (Type::Boolean, Node::Bool(_)) | (Type::Any, _) => {
                return
            }
            (Type::Object, _) => "an object",
            (Type::Array, _) => "a list",
            (Type::String, _) => "a string",
            (Type::Integer, _) => "a whole number",
            (Type::IntOrString, _) => "a whole number or a string",
            (Type::Boolean, _) => "true or false",
            (Type::Number, _) => "a number",
        };
        self.push(path, format!("must be {expected} (got {})", value.kind()));
    }

    /// One pass over the fields the object has: a schema declares far more properties than
    /// a claim sets, so the schema is never walked to look each property up in the object.
    fn object<N: Tree>(&mut self, value: &N, schema: &Schema, path: &Path<'_>) {
        if let Some(max) = schema.max_properties {
            let count = value.entries().count();
            if count > max {
                self.push(
                    path,
                    format!("must have at most {max} entries (got {count})"),
                );
            }
        }
        if let Some(values) = &schema.values {
            for (key, field) in value.entries() {
                self.node(field, values, &Path::Field(path, key));
            }
        }
        // An object without properties says nothing of its fields (`metadata` of the Input).
        let Some(properties) = &schema.properties else {
            return;
        };
        let ignored = if matches!(path, Path::Root(_)) {
            self.ignored
        } else {
            &[]
        };
        for (key, field) in value.entries() {
            match schema.property(key) {
                Some(property) if !field.is_null() => {
                    self.node(field, property, &Path::Field(path, key));
                }
                Some(_) => {}
                None if ignored.contains(&key) => {}
                None => {
                    let known: Vec<&str> = properties.iter().map(|(k, _)| k.as_str()).collect();
                    let guess = closest(key, &known)
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    let message = format!(
                        "unknown field{guess}; expected one of: {}",
                        known.join(", ")
                    );
                    self.push(&Path::Field(path, key), message);
                }
            }
        }
        for key in &schema.required {
            if value.get(key).is_none_or(Tree::is_null) {
                self.push(&Path::Field(path, key), "required");
            }
        }
    }

    fn list<N: Tree>(&mut self, items: &[N], schema: &Schema, path: &Path<'_>) {
        let count = items.len();
        if let Some(max) = schema.max_items.filter(|max| count > *max) {
            self.push(path, format!("must have at most {max} items (got {count})"));
        }
        if let Some(min) = schema.min_items.filter(|min| count < *min) {
            self.push(
                path,
                format!("must have at least {min} items (got {count})"),
            );
        }
        if let Some(item) = &schema.items {
            for (i, value) in items.iter().enumerate() {
                self.node(value, item, &Path::Item(path, i));
            }
        }
    }

    /// One message per string, the most telling first: emptiness, the enum, the pattern, the
    /// length.
    fn string(&mut self, s: &str, schema: &Schema, path: &Path<'_>) {
        let pattern = schema.pattern.as_ref();
        let members = schema.members.as_ref();
        let listed = |s: &str| members.is_none_or(|m| m.iter().any(|v| v.as_str() == Some(s)));
        let matches = |s: &str| pattern.is_none_or(|p| p.is_match(s));
        // Counted only for a bounded string: most are not.
        let length = || s.chars().count();
        let message = if s.is_empty()
            && (!listed("") || !matches("") || schema.min_length.is_some_and(|m| m > 0))
        {
            "must not be empty".to_string()
        } else if !listed(s) {
            let members = members.into_iter().flatten();
            let names: Vec<String> = members
                .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
                .collect();
            format!("must be one of {} (got {s:?})", names.join(", "))
        } else if let Some(pattern) = pattern.filter(|_| !matches(s)) {
            match pattern_words::of_pattern(&path.shape()) {
                Some(wording) => format!("must be {wording} (got {s:?})"),
                None => format!("must match the pattern {} (got {s:?})", pattern.as_str()),
            }
        } else if let Some(max) = schema.max_length.filter(|max| length() > *max) {
            format!("must be at most {max} characters (got {})", length())
        } else if let Some(min) = schema.min_length.filter(|min| length() < *min) {
            format!("must be at least {min} characters (got {})", length())
        } else {
            return;
        };
        self.push(path, message);
    }

    /// A whole number within `minimum`..`maximum`, or else within the range of its `format`.
    fn integer(&mut self, n: f64, schema: &Schema, path: &Path<'_>) {
        if n.fract() != 0.0 {
            return self.push(path, format!("must be a whole number (got {n})"));
        }
        let (min, max) = (schema.minimum, schema.maximum);
        // Whole, and compared with i64 bounds: a cast that saturates cannot let a number through.
        #[allow(clippy::cast_possible_truncation)]
        let n = n as i64;
        if n < min || n > max {
            self.push(path, format!("must be between {min} and {max} (got {n})"));
        }
    }
}

/// Where a value sits, built as the walk descends and spelt out only for a mistake: formatting
/// a path for every valid field was a sizeable part of checking a claim.
enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Item(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// The path below the root with list indexes left out: `secretRefs[].env[].envName`.
    fn shape(&self) -> String {
        match self {
            Path::Root(_) => String::new(),
            Path::Field(Path::Root(_), key) => (*key).to_string(),
            Path::Field(parent, key) => format!("{}.{key}", parent.shape()),
            Path::Item(parent, _) => format!("{}[]", parent.shape()),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(root) => f.write_str(root),
            Path::Field(parent, key) => write!(f, "{parent}.{key}"),
            Path::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// How alike a misspelt field and a known one must be (Jaro-Winkler) to be offered: high enough
/// that `colour` suggests nothing among the Input's defaults, low enough that `consumerGroup`
/// finds `consumer` and `sise` finds `size`.
const LIKENESS: f64 = 0.8;

/// The known field a misspelt one most likely meant, if any is close.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&key, &k.to_ascii_lowercase()), *k))
        .filter(|(likeness, _)| *likeness >= LIKENESS)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::convert::json_to_value;
    use serde_json::json;

    fn messages<N: Tree>(schema: &serde_json::Value, document: &N) -> Vec<String> {
        let schema = Schema::compile(schema).expect("the schema compiles");
        let mut errors = check(&schema, document, "spec", &["ours"]);
        errors.sort();
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_mistake_is_named_with_its_path_and_what_was_given() {
        let schema = json!({
            "type": "object",
            "required": ["name", "count"],
            "properties": {
                "name": {"type": "string", "maxLength": 3},
                "count": {"type": "integer", "minimum": 0, "maximum": 10},
                "ratio": {"type": "integer", "format": "int32"},
                "size": {"type": "string", "enum": ["small", "large"]},
                "flag": {"type": "boolean"},
                "code": {"type": "string", "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
                "open": {"type": "object"},
                "nested": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
        });
        let document = json!({
            "name": "long", "count": 11, "ratio": 2.5, "size": "huge", "flag": "yes",
            "code": "A1", "tags": ["a", 1], "open": {"anything": 1}, "nested": {"b": null},
            "ours": {"skipped": true}, "gone": null,
        });
        let want = [
            "spec.code: must match the pattern ^[a-z]+$ (got \"A1\")",
            "spec.count: must be between 0 and 10 (got 11)",
            "spec.flag: must be true or false (got a string)",
            "spec.gone: unknown field; expected one of: name, count, ratio, size, flag, code, tags, open, nested",
            "spec.name: must be at most 3 characters (got 4)",
            "spec.nested.b: unknown field; expected one of: a",
            "spec.ratio: must be a whole number (got 2.5)",
            "spec.size: must be one of small, large (got \"huge\")",
            "spec.tags: must have at most 1 items (got 2)",
            "spec.tags[1]: must be a string (got a number)",
        ];
        assert_eq!(messages(&schema, &document), want);
        // A protobuf document, whose numbers are all doubles, reads the same.
        assert_eq!(messages(&schema, &json_to_value(&document)), want);
        // Null is absent; a whole double is a whole number; an empty string is a string.
        assert_eq!(
            messages(&schema, &json!({"name": "", "count": null, "ratio": 3.0})),
            ["spec.count: required"]
        );
    }

    #[test]
    fn empty_strings_are_refused_where_the_schema_refuses_them() {
        let schema = json!({"type": "object", "properties": {
            "free": {"type": "string"},
            "named": {"type": "string", "minLength": 1},
            "patterned": {"type": "string", "pattern": "^a+$"},
            "listed": {"type": "string", "enum": ["a"]},
        }});
        let document = json!({"free": "", "named": "", "patterned": "", "listed": ""});
        assert_eq!(
            messages(&schema, &document),
            [
                "spec.listed: must not be empty",
                "spec.named: must not be empty",
                "spec.patterned: must not be empty",
            ]
        );
    }

    #[test]
    fn integers_outside_their_format_are_refused() {
        let schema = json!({"type": "object", "properties": {
            "small": {"type": "integer", "format": "int32", "minimum": 0},
        }});
        assert_eq!(
            messages(&schema, &json!({"small": 2_147_483_648_i64})),
            ["spec.small: must be between 0 and 2147483647 (got 2147483648)"]
        );
    }

    #[test]
    fn keywords_the_checker_would_not_apply_are_refused() {
        let unique =
            json!({"type": "object", "properties": {"a": {"type": "array", "uniqueItems": true}}});
        assert!(Schema::compile(&unique).is_err_and(|e| e.contains(".a: the keyword uniqueItems")));
        let date = json!({"type": "string", "format": "date"});
        assert!(Schema::compile(&date).is_err_and(|e| e.contains("format")));
        assert!(Schema::compile(&json!({"pattern": "("})).is_err());
    }
}
