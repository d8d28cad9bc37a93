//! The only place that converts between protobuf `Struct` and `serde_json::Value`.
//!
//! Numbers inside a `Struct` are doubles, so `replicas: 3` arrives as `3.0`. Whole doubles
//! become JSON integers here, so typed integer fields deserialise; fractions stay floats and
//! are reported by validation as not whole.
//!
//! Composed resources are typed: serde_json writes them, and [`json_to_struct`] turns the
//! result into the `Struct` a response carries.

use prost_types::{value::Kind, ListValue, Struct, Value as PbValue};
use serde_json::{Map, Number, Value};

/// Converts a protobuf `Struct` into a JSON object.
pub fn struct_to_json(s: &Struct) -> Value {
    Value::Object(fields_to_map(s))
}

/// Converts a protobuf `Struct` into a JSON map.
pub fn fields_to_map(s: &Struct) -> Map<String, Value> {
    s.fields
        .iter()
        .map(|(k, v)| (k.clone(), value_to_json(v)))
        .collect()
}

/// Converts one protobuf `Value` into JSON.
pub fn value_to_json(v: &PbValue) -> Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => number_to_json(*n),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(value_to_json).collect()),
        Some(Kind::StructValue(s)) => struct_to_json(s),
    }
}

/// A double as JSON: an integer when it is whole and exact, otherwise a float.
pub fn number_to_json(n: f64) -> Value {
    if let Some(whole) = whole(n) {
        return Value::Number(Number::from(whole));
    }
    // NaN and infinities have no JSON form.
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// Converts a JSON value into a protobuf `Value`.
pub fn json_to_value(v: &Value) -> PbValue {
    json_into_value(v.clone())
}

/// Converts a JSON map into a protobuf `Struct`.
pub fn map_to_struct(m: &Map<String, Value>) -> Struct {
    match json_into_value(Value::Object(m.clone())).kind {
        Some(Kind::StructValue(s)) => s,
        _ => Struct::default(),
    }
}

/// Merges `fields` into the object under `key` in `target`, keeping the fields already there
/// that `fields` does not name; a missing or non-object value under `key` is replaced. The rest
/// of `target` is left as it is, without a round trip through JSON.
pub fn merge_into(target: &mut Struct, key: &str, fields: &Map<String, Value>) {
    let ours = map_to_struct(fields);
    let existing = target.fields.get_mut(key).and_then(|v| match &mut v.kind {
        Some(Kind::StructValue(s)) => Some(s),
        _ => None,
    });
    match existing {
        Some(existing) => existing.fields.extend(ours.fields),
        None => {
            target.fields.insert(
                key.to_string(),
                PbValue {
                    kind: Some(Kind::StructValue(ours)),
                },
            );
        }
    }
}

/// Turns a JSON value it is handed into a protobuf `Value`, moving its strings and keys.
pub fn json_into_value(v: Value) -> PbValue {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(b),
        // Integers above 2^53 lose precision as doubles, as they do in Crossplane itself.
        #[allow(clippy::cast_precision_loss)]
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(a) => Kind::ListValue(ListValue {
            values: a.into_iter().map(json_into_value).collect(),
        }),
        Value::Object(m) => Kind::StructValue(Struct {
            fields: m
                .into_iter()
                .map(|(k, v)| (k, json_into_value(v)))
                .collect(),
        }),
    };
    PbValue { kind: Some(kind) }
}

/// Converts a JSON value into a protobuf `Struct`; anything but an object becomes an empty one.
pub fn json_to_struct(v: &Value) -> Struct {
    match v {
        Value::Object(m) => map_to_struct(m),
        _ => Struct::default(),
    }
}

/// Largest magnitude a double can hold with every integer below it exact (2^53).
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// `n` as an integer when it is whole and exact.
pub fn whole(n: f64) -> Option<i64> {
    // Exact: |n| <= 2^53 fits an i64 without rounding.
    #[allow(clippy::cast_possible_truncation)]
    (n.fract() == 0.0 && n.abs() <= MAX_EXACT_INTEGER).then_some(n as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_doubles_become_integers_and_fractions_stay_floats() {
        let cases = [
            (3.0, json!(3)),
            (-2.0, json!(-2)),
            (0.0, json!(0)),
            (2.5, json!(2.5)),
            (1e300, json!(1e300)),
            (f64::NAN, Value::Null),
        ];
        for (input, want) in cases {
            assert_eq!(number_to_json(input), want, "converting {input}");
        }
    }

    #[test]
    fn round_trip_preserves_nested_structure() {
        let doc = json!({
            "spec": {"image": "a:1", "scaling": {"maxReplicas": 4}, "list": [true, null, "x", 1.5]},
        });
        let back = struct_to_json(&json_to_struct(&doc));
        assert_eq!(back, doc);
    }

    #[test]
    fn merging_keeps_other_fields_and_replaces_a_non_object() {
        let mut xr = json_to_struct(&json!({"spec": {"a": 1}, "status": {"kept": true, "n": 1}}));
        let ours = json!({"n": 2, "added": "x"});
        merge_into(&mut xr, "status", ours.as_object().unwrap());
        assert_eq!(
            struct_to_json(&xr),
            json!({"spec": {"a": 1}, "status": {"kept": true, "n": 2, "added": "x"}})
        );
        let mut odd = json_to_struct(&json!({"status": "text"}));
        merge_into(&mut odd, "status", ours.as_object().unwrap());
        assert_eq!(
            struct_to_json(&odd),
            json!({"status": {"n": 2, "added": "x"}})
        );
    }
}
