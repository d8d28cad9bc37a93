//! A structural (OpenAPI v3) schema, the one a CRD or XRD carries, compiled once into the
//! shape the checker and the defaulting reader walk: no keyword is looked up by name and no
//! pattern compiled while a document is read.
//!
//! Only the keywords represented here are understood; [`Schema::compile`] refuses a schema that
//! uses any other (besides prose and the Kubernetes rules stated by hand), so no rule of a
//! schema can go unchecked unnoticed.

use super::convert::json_to_value;
use prost_types::Value as PbValue;
use regex::Regex;
use serde_json::Value;

/// Keywords left alone: prose, and the Kubernetes rules the API states by hand (CEL rules, and
/// the unique keys of list-maps).
const IGNORED: &[&str] = &[
    "description",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
];

/// What a schema node says its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `object`.
    Object,
    /// `array`.
    Array,
    /// `string`.
    String,
    /// `x-kubernetes-int-or-string`: a whole number or a string.
    IntOrString,
    /// `integer`, within the range of its format (`int32`, or else `int64`) unless bounded.
    Integer,
    /// `number`.
    Number,
    /// `boolean`.
    Boolean,
    /// No `type`: anything.
    Any,
}

/// One compiled schema node.
#[derive(Debug)]
pub struct Schema {
    /// `type`.
    pub kind: Type,
    /// `properties`, in the schema's order; `None` when the node declares none (any field).
    pub properties: Option<Vec<(String, Schema)>>,
    /// `additionalProperties`: the schema of every value of a map.
    pub values: Option<Box<Schema>>,
    /// `maxProperties`.
    pub max_properties: Option<usize>,
    /// `required`.
    pub required: Vec<String>,
    /// `items`.
    pub items: Option<Box<Schema>>,
    /// `enum`.
    pub members: Option<Vec<Value>>,
    /// `pattern`, compiled.
    pub pattern: Option<Regex>,
    /// `minLength`.
    pub min_length: Option<usize>,
    /// `maxLength`.
    pub max_length: Option<usize>,
    /// `minItems`.
    pub min_items: Option<usize>,
    /// `maxItems`.
    pub max_items: Option<usize>,
    /// `minimum` of an integer, or the least its format holds.
    pub minimum: i64,
    /// `maximum` of an integer, or the most its format holds.
    pub maximum: i64,
    /// `default`, held as a protobuf value: the server's documents are protobuf values, so
    /// a default is read by the same code as the field it stands in for.
    pub default: Option<PbValue>,
}

impl Schema {
    /// Compiles a schema node and everything below it, naming the first keyword it would not
    /// apply and the first pattern that does not compile.
    pub fn compile(node: &Value) -> Result<Self, String> {
        compile(node, "")
    }

    /// The schema of the property `key`, if the node declares it.
    pub fn property(&self, key: &str) -> Option<&Schema> {
        self.properties
            .as_ref()?
            .iter()
            .find_map(|(name, schema)| (name == key).then_some(schema))
    }

    /// The schema of the field `key`: its property, or a map's value schema.
    pub fn field(&self, key: &str) -> Option<&Schema> {
        self.property(key).or(self.values.as_deref())
    }
}

fn compile(node: &Value, at: &str) -> Result<Schema, String> {
    let Some(map) = node.as_object() else {
        return Err(format!("{at}: a schema must be an object"));
    };
    let count = |key: &str| -> Result<Option<usize>, String> {
        map.get(key)
            .map(|n| {
                n.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| format!("{at}: {key} must be a count"))
            })
            .transpose()
    };
    let mut schema = Schema {
        kind: Type::Any,
        properties: None,
        values: None,
        max_properties: count("maxProperties")?,
        required: Vec::new(),
        items: None,
        members: None,
        pattern: None,
        min_length: count("minLength")?,
        max_length: count("maxLength")?,
        min_items: count("minItems")?,
        max_items: count("maxItems")?,
        minimum: i64::MIN,
        maximum: i64::MAX,
        default: map.get("default").map(json_to_value),
    };
    for (key, value) in map {
        match key.as_str() {
            "type" => {
                schema.kind = kind(value).ok_or(format!("{at}: the type {value} is not checked"))?
            }
            "properties" => {
                let properties = value
                    .as_object()
                    .ok_or(format!("{at}: properties must be an object"))?;
                schema.properties = Some(
                    properties
                        .iter()
                        .map(|(name, v)| Ok((name.clone(), compile(v, &format!("{at}.{name}"))?)))
                        .collect::<Result<_, String>>()?,
                );
            }
            "additionalProperties" => {
                schema.values = Some(Box::new(compile(value, &format!("{at}{{}}"))?))
            }
            "x-kubernetes-int-or-string" if value == &Value::Bool(true) => {
                schema.kind = Type::IntOrString
            }
            // Fields are left as given: the node declares no properties (any field).
            "x-kubernetes-preserve-unknown-fields" if value == &Value::Bool(true) => {}
            "items" => schema.items = Some(Box::new(compile(value, &format!("{at}[]"))?)),
            "required" => {
                schema.required = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
            }
            "enum" => schema.members = value.as_array().cloned(),
            "pattern" => {
                let pattern = value.as_str().unwrap_or_default();
                schema.pattern = Some(Regex::new(pattern).map_err(|e| format!("{at}: {e}"))?);
            }
            "format" => match value.as_str() {
                Some("int32") => {
                    (schema.minimum, schema.maximum) = (i32::MIN.into(), i32::MAX.into())
                }
                Some("int64") => {}
                _ => return Err(format!("{at}: the format {value} is not checked")),
            },
            "minLength" | "maxLength" | "minItems" | "maxItems" | "maxProperties" | "minimum"
            | "maximum" | "default" => {}
            _ if IGNORED.contains(&key.as_str()) => {}
            _ => return Err(format!("{at}: the keyword {key} is not checked")),
        }
    }
    // Explicit bounds win over the format's, whichever came first in the schema.
    if let Some(min) = map.get("minimum").and_then(Value::as_i64) {
        schema.minimum = min;
    }
    if let Some(max) = map.get("maximum").and_then(Value::as_i64) {
        schema.maximum = max;
    }
    Ok(schema)
}

fn kind(value: &Value) -> Option<Type> {
    Some(match value.as_str()? {
        "object" => Type::Object,
        "array" => Type::Array,
        "string" => Type::String,
        "integer" => Type::Integer,
        "number" => Type::Number,
        "boolean" => Type::Boolean,
        _ => return None,
    })
}
