//! The only place that converts between protobuf `Struct` and `serde_json::Value`.
//!
//! Numbers inside a `Struct` are doubles, so `replicas: 3` arrives as `3.0`. Whole doubles
//! become JSON integers here, so typed integer fields deserialise; fractions stay floats and
//! are reported by validation as not whole.
//!
//! Composed resources go the other way without JSON in between: [`to_struct`] serialises a
//! typed resource straight into a `Struct`, as `serde_json::to_value` followed by
//! [`json_to_struct`] would, at a fraction of the cost (one tree built instead of three).

use super::value_error::{whole, ValueError};
use prost_types::{value::Kind, ListValue, Struct, Value as PbValue};
use serde::{ser, Serialize};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

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
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        // Integers above 2^53 lose precision as doubles, as they do in Crossplane itself.
        #[allow(clippy::cast_precision_loss)]
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(ListValue {
            values: a.iter().map(json_to_value).collect(),
        }),
        Value::Object(m) => Kind::StructValue(map_to_struct(m)),
    };
    PbValue { kind: Some(kind) }
}

/// Converts a JSON map into a protobuf `Struct`.
pub fn map_to_struct(m: &Map<String, Value>) -> Struct {
    Struct {
        fields: m
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
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

/// Converts a JSON value into a protobuf `Struct`; anything but an object becomes an empty one.
pub fn json_to_struct(v: &Value) -> Struct {
    match v {
        Value::Object(m) => map_to_struct(m),
        _ => Struct::default(),
    }
}

/// Serialises `value` into a protobuf `Struct`; anything but a map or struct becomes an empty
/// one, as in [`json_to_struct`].
pub fn to_struct<T: Serialize + ?Sized>(value: &T) -> Result<Struct, ValueError> {
    Ok(match value.serialize(ValueSerializer)?.kind {
        Some(Kind::StructValue(s)) => s,
        _ => Struct::default(),
    })
}

/// Serialises `value` into a protobuf `Value`, with serde_json's data model: integers become
/// doubles, non-finite floats and `None` become null, enum variants are externally tagged.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<PbValue, ValueError> {
    value.serialize(ValueSerializer)
}

fn pb(kind: Kind) -> PbValue {
    PbValue { kind: Some(kind) }
}

fn null() -> PbValue {
    pb(Kind::NullValue(0))
}

fn number(n: f64) -> PbValue {
    // serde_json has no form for NaN or infinities and turns them into null.
    if n.is_finite() {
        pb(Kind::NumberValue(n))
    } else {
        null()
    }
}

/// `{variant: value}`: how serde_json writes a newtype, tuple or struct variant.
fn tagged(variant: &str, value: PbValue) -> PbValue {
    pb(Kind::StructValue(Struct {
        fields: BTreeMap::from([(variant.to_string(), value)]),
    }))
}

struct ValueSerializer;

// Integers above 2^53 lose precision as doubles, as they do in `json_to_value`.
#[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
impl ser::Serializer for ValueSerializer {
    type Ok = PbValue;
    type Error = ValueError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<PbValue, ValueError> {
        Ok(pb(Kind::BoolValue(v)))
    }
    fn serialize_i8(self, v: i8) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_i16(self, v: i16) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_i32(self, v: i32) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_i64(self, v: i64) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_u8(self, v: u8) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_u16(self, v: u16) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_u32(self, v: u32) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_u64(self, v: u64) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_f32(self, v: f32) -> Result<PbValue, ValueError> {
        Ok(number(v as f64))
    }
    fn serialize_f64(self, v: f64) -> Result<PbValue, ValueError> {
        Ok(number(v))
    }
    fn serialize_char(self, v: char) -> Result<PbValue, ValueError> {
        Ok(pb(Kind::StringValue(v.to_string())))
    }
    fn serialize_str(self, v: &str) -> Result<PbValue, ValueError> {
        Ok(pb(Kind::StringValue(v.to_string())))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<PbValue, ValueError> {
        // serde_json writes bytes as a list of numbers.
        let values = v.iter().map(|b| number(*b as f64)).collect();
        Ok(pb(Kind::ListValue(ListValue { values })))
    }
    fn serialize_none(self) -> Result<PbValue, ValueError> {
        Ok(null())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<PbValue, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<PbValue, ValueError> {
        Ok(null())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<PbValue, ValueError> {
        Ok(null())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<PbValue, ValueError> {
        Ok(pb(Kind::StringValue(variant.to_string())))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<PbValue, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<PbValue, ValueError> {
        Ok(tagged(variant, value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, ValueError> {
        Ok(SeqBuilder {
            variant: None,
            values: Vec::with_capacity(len.unwrap_or_default()),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, ValueError> {
        Ok(SeqBuilder {
            variant: Some(variant),
            values: Vec::with_capacity(len),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder {
            variant: Some(variant),
            ..MapBuilder::default()
        })
    }
}

struct SeqBuilder {
    variant: Option<&'static str>,
    values: Vec<PbValue>,
}

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.values.push(value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn finish(self) -> PbValue {
        let list = pb(Kind::ListValue(ListValue {
            values: self.values,
        }));
        match self.variant {
            Some(variant) => tagged(variant, list),
            None => list,
        }
    }
}

/// The four serde sequence traits differ only in their element method's name.
macro_rules! sequence {
    ($($trait:ident :: $element:ident),+) => {$(
        impl ser::$trait for SeqBuilder {
            type Ok = PbValue;
            type Error = ValueError;
            fn $element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
                self.push(value)
            }
            fn end(self) -> Result<PbValue, ValueError> {
                Ok(self.finish())
            }
        }
    )+};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

#[derive(Default)]
struct MapBuilder {
    variant: Option<&'static str>,
    fields: BTreeMap<String, PbValue>,
    key: Option<String>,
}

impl MapBuilder {
    fn finish(self) -> PbValue {
        let map = pb(Kind::StructValue(Struct {
            fields: self.fields,
        }));
        match self.variant {
            Some(variant) => tagged(variant, map),
            None => map,
        }
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = PbValue;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <ValueError as ser::Error>::custom("map value without a key"))?;
        self.fields.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<PbValue, ValueError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = PbValue;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.fields
            .insert(key.to_string(), value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<PbValue, ValueError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = PbValue;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<PbValue, ValueError> {
        Ok(self.finish())
    }
}

/// Map keys: strings as they are, and numbers, chars and unit variants written out, as in
/// serde_json; anything else has no key form.
struct KeySerializer;

fn not_a_key<T>(what: &str) -> Result<T, ValueError> {
    Err(<ValueError as ser::Error>::custom(format!(
        "a map key must be a string, not {what}"
    )))
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = ValueError;
    type SerializeSeq = ser::Impossible<String, ValueError>;
    type SerializeTuple = ser::Impossible<String, ValueError>;
    type SerializeTupleStruct = ser::Impossible<String, ValueError>;
    type SerializeTupleVariant = ser::Impossible<String, ValueError>;
    type SerializeMap = ser::Impossible<String, ValueError>;
    type SerializeStruct = ser::Impossible<String, ValueError>;
    type SerializeStructVariant = ser::Impossible<String, ValueError>;

    fn serialize_str(self, v: &str) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Result<String, ValueError> {
        not_a_key("a float")
    }
    fn serialize_f64(self, _v: f64) -> Result<String, ValueError> {
        not_a_key("a float")
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ValueError> {
        not_a_key("bytes")
    }
    fn serialize_none(self) -> Result<String, ValueError> {
        not_a_key("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, ValueError> {
        not_a_key("null")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ValueError> {
        not_a_key("null")
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ValueError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ValueError> {
        not_a_key("an enum variant with data")
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        not_a_key("a list")
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
        not_a_key("a tuple")
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        not_a_key("a tuple")
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        not_a_key("an enum variant with data")
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        not_a_key("a map")
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        not_a_key("a struct")
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        not_a_key("an enum variant with data")
    }
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
    fn serialising_straight_to_a_struct_matches_going_through_json() {
        use k8s_openapi::{
            api::core::v1::{Container, EnvVar},
            apimachinery::pkg::{api::resource::Quantity, util::intstr::IntOrString},
        };
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        enum Shape {
            Unit,
            Newtype(i32),
            Tuple(u8, String),
            Struct { flag: bool },
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Everything {
            container: Container,
            port: IntOrString,
            named_port: IntOrString,
            quantity: Quantity,
            shapes: Vec<Shape>,
            numbers: (i64, u64, f64, f32),
            not_finite: f64,
            missing: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<String>,
            numeric_keys: BTreeMap<u16, char>,
            bytes: serde_bytes_like::Bytes,
            unit: (),
        }
        mod serde_bytes_like {
            /// Serialises through `serialize_bytes`, which plain slices do not.
            pub struct Bytes(pub Vec<u8>);
            impl serde::Serialize for Bytes {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_bytes(&self.0)
                }
            }
        }
        let value = Everything {
            container: Container {
                name: "main".into(),
                env: Some(vec![EnvVar {
                    name: "A".into(),
                    value: Some("b".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            port: IntOrString::Int(8080),
            named_port: IntOrString::String("http".into()),
            quantity: Quantity("500m".into()),
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(3),
                Shape::Tuple(1, "x".into()),
                Shape::Struct { flag: true },
            ],
            numbers: (-7, 1 << 60, 2.5, 0.5),
            not_finite: f64::NAN,
            missing: None,
            skipped: None,
            numeric_keys: BTreeMap::from([(1, 'a'), (22, 'b')]),
            bytes: serde_bytes_like::Bytes(vec![0, 255]),
            unit: (),
        };
        let through_json = json_to_struct(&serde_json::to_value(&value).unwrap());
        assert_eq!(to_struct(&value).unwrap(), through_json);
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

    #[test]
    fn only_string_like_map_keys_serialise() {
        let map = BTreeMap::from([((1, 2), "tuple key")]);
        assert!(to_struct(&map).is_err());
        assert!(serde_json::to_value(&map).is_err());
    }
}
