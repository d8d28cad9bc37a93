//! Reads untyped JSON field by field, collecting every mistake with its path.
//!
//! serde stops at the first error; users fixing a claim want all of them at once. The spec and
//! the Input are first walked here, and only handed to serde once the walk found nothing.

use crate::{
    api::field_error::FieldError,
    document::tree::{Node, Tree},
};
use regex::Regex;

/// An object under a path, with the field names it may hold.
pub struct Object<'a, N> {
    path: String,
    value: &'a N,
}

/// Collects the errors of one walk.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// Records one error.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(path, message));
    }

    /// `Ok(value)` when nothing was recorded, otherwise every error.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }
}

/// `parent.child`, or `child` at the root.
pub fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

/// Reads `value` as an object at `path` whose fields must all be in `known`.
pub fn object<'a, N: Tree>(
    value: &'a N,
    path: &str,
    known: &[&str],
    errors: &mut Errors,
) -> Option<Object<'a, N>> {
    object_ignoring(value, path, known, &[], errors)
}

/// Like [`object`], but fields in `ignored` are let through without being offered to the user.
pub fn object_ignoring<'a, N: Tree>(
    value: &'a N,
    path: &str,
    known: &[&str],
    ignored: &[&str],
    errors: &mut Errors,
) -> Option<Object<'a, N>> {
    if !matches!(value.node(), Node::Object) {
        errors.push(path, format!("must be an object (got {})", value.kind()));
        return None;
    }
    for key in value
        .entries()
        .map(|(k, _)| k)
        .filter(|k| !known.contains(k) && !ignored.contains(k))
    {
        errors.push(
            join(path, key),
            format!("unknown field; expected one of: {}", known.join(", ")),
        );
    }
    Some(Object {
        path: path.to_string(),
        value,
    })
}

impl<'a, N: Tree> Object<'a, N> {
    /// Path of a field of this object.
    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw value of a field; JSON null counts as absent, as it does for Kubernetes.
    pub fn get(&self, key: &str) -> Option<&'a N> {
        self.value.get(key).filter(|v| !v.is_null())
    }

    /// A field that must be present.
    pub fn required(&self, key: &str, errors: &mut Errors) -> Option<&'a N> {
        let v = self.get(key);
        if v.is_none() {
            errors.push(self.path_of(key), "required");
        }
        v
    }

    /// An optional string field.
    pub fn string(&self, key: &str, errors: &mut Errors) -> Option<&'a str> {
        self.get(key)
            .and_then(|v| as_string_at(v, || self.path_of(key), errors))
    }

    /// A required, non-empty string field.
    pub fn required_string(&self, key: &str, errors: &mut Errors) -> Option<&'a str> {
        self.required(key, errors)
            .and_then(|v| as_string_at(v, || self.path_of(key), errors))
    }

    /// An optional boolean field.
    pub fn boolean(&self, key: &str, errors: &mut Errors) -> Option<bool> {
        let v = self.get(key)?;
        match v.node() {
            Node::Bool(b) => Some(b),
            _ => {
                errors.push(
                    self.path_of(key),
                    format!("must be true or false (got {})", v.kind()),
                );
                None
            }
        }
    }

    /// An optional whole-number field of at least `min`.
    pub fn integer(&self, key: &str, min: i64, max: i64, errors: &mut Errors) -> Option<i64> {
        // The path is only needed for a message; formatting it for every valid field was a
        // sizeable part of validating a claim.
        let path = || self.path_of(key);
        let v = self.get(key)?;
        let Node::Number(n) = v.node() else {
            errors.push(path(), format!("must be a whole number (got {})", v.kind()));
            return None;
        };
        let n = n.as_f64();
        if n.fract() != 0.0 {
            errors.push(path(), format!("must be a whole number (got {n})"));
            return None;
        }
        // Whole and range-checked below, so the cast cannot lose anything that matters.
        #[allow(clippy::cast_possible_truncation)]
        let n = n as i64;
        if n < min || n > max {
            errors.push(path(), format!("must be between {min} and {max} (got {n})"));
            return None;
        }
        Some(n)
    }

    /// An optional list field.
    pub fn list(&self, key: &str, errors: &mut Errors) -> Option<&'a [N]> {
        let v = self.get(key)?;
        let list = v.as_list();
        if list.is_none() {
            errors.push(
                self.path_of(key),
                format!("must be a list (got {})", v.kind()),
            );
        }
        list
    }

    /// An optional list of strings.
    pub fn strings(&self, key: &str, errors: &mut Errors) -> Option<Vec<&'a str>> {
        let items = self.list(key, errors)?;
        let strings: Vec<_> = items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| as_string_at(v, || format!("{}[{i}]", self.path_of(key)), errors))
            .collect();
        (strings.len() == items.len()).then_some(strings)
    }
}

/// [`as_string`], formatting the path only when there is a mistake to report.
fn as_string_at<'a, N: Tree>(
    value: &'a N,
    path: impl FnOnce() -> String,
    errors: &mut Errors,
) -> Option<&'a str> {
    match value.as_str() {
        Some(s) if !s.is_empty() => Some(s),
        _ => as_string(value, &path(), errors),
    }
}

/// `value` as a non-empty string.
pub fn as_string<'a, N: Tree>(value: &'a N, path: &str, errors: &mut Errors) -> Option<&'a str> {
    match value.as_str() {
        Some("") => {
            errors.push(path, "must not be empty");
            None
        }
        Some(s) => Some(s),
        None => {
            errors.push(path, format!("must be a string (got {})", value.kind()));
            None
        }
    }
}

/// Checks `value` against `pattern`, saying what it must be when it does not match.
pub fn check_pattern(
    value: &str,
    pattern: &Regex,
    path: &str,
    must_be: &str,
    errors: &mut Errors,
) -> bool {
    let ok = pattern.is_match(value);
    if !ok {
        errors.push(path, format!("must be {must_be} (got {value:?})"));
    }
    ok
}

/// Checks that a list has at most `max` items.
pub fn check_max_items<T>(items: &[T], max: usize, path: &str, errors: &mut Errors) -> bool {
    let ok = items.len() <= max;
    if !ok {
        errors.push(
            path,
            format!("must have at most {max} items (got {})", items.len()),
        );
    }
    ok
}

/// Checks the length of `value` in characters.
pub fn check_max_len(value: &str, max: usize, path: &str, errors: &mut Errors) -> bool {
    let len = value.chars().count();
    let ok = len <= max;
    if !ok {
        errors.push(
            path,
            format!("must be at most {max} characters (got {len})"),
        );
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_accept_whole_doubles_and_reject_fractions_and_bounds() {
        let doc = json!({"a": 3.0, "b": 2.5, "c": "3", "d": -1, "e": 7});
        let mut errors = Errors::default();
        let obj = object(&doc, "spec", &["a", "b", "c", "d", "e"], &mut errors).unwrap();
        assert_eq!(obj.integer("a", 0, 10, &mut errors), Some(3));
        assert_eq!(obj.integer("b", 0, 10, &mut errors), None);
        assert_eq!(obj.integer("c", 0, 10, &mut errors), None);
        assert_eq!(obj.integer("d", 0, 10, &mut errors), None);
        assert_eq!(obj.integer("missing", 0, 10, &mut errors), None);
        assert_eq!(obj.integer("e", 0, 10, &mut errors), Some(7));
        let got: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "spec.b: must be a whole number (got 2.5)",
                "spec.c: must be a whole number (got a string)",
                "spec.d: must be between 0 and 10 (got -1)",
            ]
        );
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let mut errors = Errors::default();
        object(&json!({"sise": 1}), "spec", &["size"], &mut errors);
        assert_eq!(
            errors.0[0].to_string(),
            "spec.sise: unknown field; expected one of: size"
        );
    }
}
