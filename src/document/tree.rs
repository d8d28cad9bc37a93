//! Read-only access to a JSON-shaped document, whether it arrived as `serde_json::Value` (the
//! offline CLI reading YAML) or as a protobuf `Value` (the server reading a request).
//!
//! Validation, placement, the status report and the typed spec all read through [`Tree`], so
//! the server reads the observed XR and resources where they are instead of converting them
//! into JSON first. [`deserialize`] hands a tree to serde with Kubernetes' reading of it: a
//! null field is an absent one, and a whole double (all numbers in a protobuf `Struct` are
//! doubles) is an integer. [`deserialize_defaulted`] also fills absent fields with the
//! `default`s of a structural (OpenAPI v3) schema, as the API server does when it stores an
//! object, without copying the tree.

use super::{
    openapi::Schema,
    value_error::{whole, ValueError},
};
use prost_types::{value::Kind, Struct, Value as PbValue};
use serde::de::{
    self, value::StrDeserializer, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess,
    SeqAccess, Visitor,
};
use serde_json::Value;

/// A number as the document holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A negative or small integer.
    Int(i64),
    /// An integer above `i64::MAX`, which only JSON can hold.
    UInt(u64),
    /// Anything else, including whole doubles.
    Float(f64),
}

impl Number {
    /// The number as a double, as a user would read it.
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(n) => n as f64,
            Number::UInt(n) => n as f64,
            Number::Float(n) => n,
        }
    }

    /// The number as an integer when it is whole and exact.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Number::Int(n) => Some(n),
            Number::UInt(n) => i64::try_from(n).ok(),
            Number::Float(n) => whole(n),
        }
    }
}

/// One node of a document.
pub enum Node<'a, T> {
    /// JSON null, or a protobuf value with no kind.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(&'a str),
    /// A list.
    List(&'a [T]),
    /// An object; its fields are read with [`Tree::get`] and [`Tree::entries`].
    Object,
}

/// A JSON-shaped document that can be read without copying.
pub trait Tree: Sized {
    /// What this node is.
    fn node(&self) -> Node<'_, Self>;

    /// The field `key` of an object; `None` when absent or when this is not an object.
    fn get(&self, key: &str) -> Option<&Self>;

    /// The fields of an object in the document's order; empty when this is not an object.
    fn entries(&self) -> impl Iterator<Item = (&str, &Self)>;

    /// Whether this node is null.
    fn is_null(&self) -> bool {
        matches!(self.node(), Node::Null)
    }

    /// The string this node holds.
    fn as_str(&self) -> Option<&str> {
        match self.node() {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// The whole number this node holds.
    fn as_i64(&self) -> Option<i64> {
        match self.node() {
            Node::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The list this node holds.
    fn as_list(&self) -> Option<&[Self]> {
        match self.node() {
            Node::List(items) => Some(items),
            _ => None,
        }
    }

    /// What a user would call this node's type.
    fn kind(&self) -> &'static str {
        match self.node() {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Number(_) => "a number",
            Node::String(_) => "a string",
            Node::List(_) => "a list",
            Node::Object => "an object",
        }
    }
}

impl Tree for Value {
    fn node(&self) -> Node<'_, Self> {
        match self {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => Node::Number(match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Number::Int(i),
                (None, Some(u)) => Number::UInt(u),
                (None, None) => Number::Float(n.as_f64().unwrap_or_default()),
            }),
            Value::String(s) => Node::String(s),
            Value::Array(items) => Node::List(items),
            Value::Object(_) => Node::Object,
        }
    }

    fn get(&self, key: &str) -> Option<&Self> {
        self.as_object()?.get(key)
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Self)> {
        self.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }
}

impl Tree for PbValue {
    fn node(&self) -> Node<'_, Self> {
        match &self.kind {
            None | Some(Kind::NullValue(_)) => Node::Null,
            Some(Kind::BoolValue(b)) => Node::Bool(*b),
            Some(Kind::NumberValue(n)) => Node::Number(Number::Float(*n)),
            Some(Kind::StringValue(s)) => Node::String(s),
            Some(Kind::ListValue(list)) => Node::List(&list.values),
            Some(Kind::StructValue(_)) => Node::Object,
        }
    }

    fn get(&self, key: &str) -> Option<&Self> {
        match &self.kind {
            Some(Kind::StructValue(s)) => s.fields.get(key),
            _ => None,
        }
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Self)> {
        let fields = match &self.kind {
            Some(Kind::StructValue(s)) => Some(&s.fields),
            _ => None,
        };
        fields.into_iter().flatten().map(|(k, v)| (k.as_str(), v))
    }
}

/// The top-level parts of a Kubernetes object that the function reads.
#[derive(Debug)]
pub struct ObjectParts<'a, N> {
    /// `metadata`.
    pub metadata: Option<&'a N>,
    /// `spec`.
    pub spec: Option<&'a N>,
    /// `status`.
    pub status: Option<&'a N>,
}

// Derived Clone and Copy would ask the same of `N`; the parts are only references.
impl<N> Clone for ObjectParts<'_, N> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<N> Copy for ObjectParts<'_, N> {}

impl<'a, N: Tree> ObjectParts<'a, N> {
    /// The parts of an object, read with `field` from its top level.
    pub fn read(field: impl Fn(&str) -> Option<&'a N>) -> Self {
        Self {
            metadata: field("metadata"),
            spec: field("spec"),
            status: field("status"),
        }
    }

    /// The parts of an object held in a node.
    pub fn of(object: &'a N) -> Self {
        Self::read(|key| object.get(key))
    }
}

impl<'a> ObjectParts<'a, PbValue> {
    /// The parts of an object as a request carries it, in a protobuf `Struct`.
    pub fn of_struct(object: &'a Struct) -> Self {
        Self::read(|key| object.fields.get(key))
    }
}

/// Deserialises `tree` into `T`, leaving out the top-level fields named in `skip` (fields that
/// belong to someone else, such as Crossplane's own in an XR's spec). Null fields count as
/// absent and whole numbers as integers, at every depth.
pub fn deserialize<'de, N: Tree, T: de::Deserialize<'de>>(
    tree: &'de N,
    skip: &'de [&'de str],
) -> Result<T, ValueError> {
    T::deserialize(TreeDeserializer {
        tree,
        skip,
        schema: None,
    })
}

/// Like [`deserialize`], with every field that is absent (or null) but has a `default` in
/// `schema` read as that default, inside objects of the tree and inside the defaults
/// themselves (`scaling: {default: {}}` gets its fields' defaults too), as the API server
/// applies a structural schema's defaults.
pub fn deserialize_defaulted<'de, N: Tree, T: de::Deserialize<'de>>(
    tree: &'de N,
    skip: &'de [&'de str],
    schema: &'de Schema,
) -> Result<T, ValueError> {
    T::deserialize(TreeDeserializer {
        tree,
        skip,
        schema: Some(schema),
    })
}

struct TreeDeserializer<'de, N> {
    tree: &'de N,
    /// Top-level fields to leave out; empty below the top.
    skip: &'de [&'de str],
    /// The schema of this node, whose properties' defaults fill absent fields.
    schema: Option<&'de Schema>,
}

impl<'de, N: Tree> TreeDeserializer<'de, N> {
    fn below(tree: &'de N, schema: Option<&'de Schema>) -> Self {
        Self {
            tree,
            skip: &[],
            schema,
        }
    }
}

impl<'de, N: Tree> Deserializer<'de> for TreeDeserializer<'de, N> {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.tree.node() {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(b),
            Node::Number(Number::UInt(n)) => visitor.visit_u64(n),
            Node::Number(n) => match n.as_i64() {
                Some(i) => visitor.visit_i64(i),
                None => visitor.visit_f64(n.as_f64()),
            },
            Node::String(s) => visitor.visit_borrowed_str(s),
            Node::List(items) => visitor.visit_seq(Items {
                items: items.iter(),
                schema: self.schema.and_then(|s| s.items.as_deref()),
            }),
            Node::Object => {
                let properties = self.schema.and_then(|s| s.properties.as_deref());
                visitor.visit_map(Fields {
                    object: self.tree,
                    entries: self.tree.entries(),
                    skip: self.skip,
                    schema: self.schema,
                    defaults: properties.map(<[_]>::iter),
                    value: None,
                })
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        if self.tree.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        // Only unit variants are spelled in documents (`size: small`).
        match self.tree.node() {
            Node::String(s) => {
                let variant: StrDeserializer<'_, ValueError> = s.into_deserializer();
                visitor.visit_enum(variant)
            }
            _ => Err(de::Error::invalid_type(
                de::Unexpected::Other(self.tree.kind()),
                &visitor,
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

struct Items<'de, I> {
    items: I,
    schema: Option<&'de Schema>,
}

impl<'de, N: Tree + 'de, I: Iterator<Item = &'de N>> SeqAccess<'de> for Items<'de, I> {
    type Error = ValueError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ValueError> {
        let schema = self.schema;
        self.items
            .next()
            .map(|item| seed.deserialize(TreeDeserializer::below(item, schema)))
            .transpose()
    }
}

/// The value of the key last handed out: the document's own, or a default from the schema.
enum Pending<'de, N> {
    Set(&'de N, Option<&'de Schema>),
    Default(&'de PbValue, &'de Schema),
}

struct Fields<'de, N, I> {
    object: &'de N,
    entries: I,
    skip: &'de [&'de str],
    /// The schema of this object.
    schema: Option<&'de Schema>,
    /// The properties left to look at for defaults, once the document's fields are read.
    defaults: Option<std::slice::Iter<'de, (String, Schema)>>,
    value: Option<Pending<'de, N>>,
}

impl<'de, N: Tree + 'de, I: Iterator<Item = (&'de str, &'de N)>> MapAccess<'de>
    for Fields<'de, N, I>
{
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        let skip = self.skip;
        let key = if let Some((key, value)) = self
            .entries
            .find(|(key, value)| !value.is_null() && !skip.contains(key))
        {
            let schema = self.schema.and_then(|s| s.field(key));
            self.value = Some(Pending::Set(value, schema));
            key
        } else {
            let object = self.object;
            let Some(defaults) = self.defaults.as_mut() else {
                return Ok(None);
            };
            // Only a property with a default is looked up in the object.
            let Some((key, schema, default)) = defaults.find_map(|(key, schema)| {
                let default = schema.default.as_ref()?;
                let absent = object.get(key).is_none_or(Tree::is_null);
                absent.then_some((key, schema, default))
            }) else {
                return Ok(None);
            };
            self.value = Some(Pending::Default(default, schema));
            key.as_str()
        };
        let key: StrDeserializer<'_, ValueError> = key.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ValueError> {
        match self.value.take() {
            Some(Pending::Set(value, schema)) => {
                seed.deserialize(TreeDeserializer::below(value, schema))
            }
            Some(Pending::Default(value, schema)) => {
                seed.deserialize(TreeDeserializer::below(value, Some(schema)))
            }
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::convert::json_to_value;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Doc {
        count: u32,
        #[serde(default)]
        ratio: Option<f64>,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        size: Option<Size>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Size {
        Small,
        Large,
    }

    #[test]
    fn json_and_protobuf_read_the_same() {
        let doc = json!({
            "count": 3.0, "ratio": 0.5, "names": ["a", "b"], "size": "large",
            "gone": null, "resourceRefs": [{"name": "x"}],
        });
        let want = Doc {
            count: 3,
            ratio: Some(0.5),
            names: vec!["a".into(), "b".into()],
            size: Some(Size::Large),
        };
        let skip = &["resourceRefs"];
        assert_eq!(deserialize::<_, Doc>(&doc, skip), Ok(want));
        let pb = json_to_value(&doc);
        assert_eq!(
            deserialize::<_, Doc>(&pb, skip),
            deserialize::<_, Doc>(&doc, skip)
        );
        assert_eq!(
            deserialize::<_, Doc>(&json!({"count": 1, "size": "small"}), &[]),
            Ok(Doc {
                count: 1,
                ratio: None,
                names: vec![],
                size: Some(Size::Small)
            })
        );
    }

    #[test]
    fn absent_and_null_fields_take_the_schemas_defaults_at_every_depth() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct Outer {
            size: String,
            inner: Inner,
            items: Vec<Inner>,
        }
        #[derive(Debug, PartialEq, Deserialize)]
        struct Inner {
            count: u32,
            name: Option<String>,
        }
        let inner = json!({"type": "object", "default": {}, "properties": {
            "count": {"type": "integer", "default": 3},
            "name": {"type": "string"},
        }});
        let schema = Schema::compile(&json!({"type": "object", "properties": {
            "size": {"type": "string", "default": "medium"},
            "inner": inner,
            "items": {"type": "array", "items": inner},
        }}))
        .expect("the schema compiles");
        let doc = json!({"size": null, "items": [{"name": "a"}, {"count": 1.0}]});
        let want = Outer {
            size: "medium".into(),
            inner: Inner {
                count: 3,
                name: None,
            },
            items: vec![
                Inner {
                    count: 3,
                    name: Some("a".into()),
                },
                Inner {
                    count: 1,
                    name: None,
                },
            ],
        };
        assert_eq!(deserialize_defaulted(&doc, &[], &schema), Ok(want));
        let pb = json_to_value(&doc);
        assert_eq!(
            deserialize_defaulted::<_, Outer>(&pb, &[], &schema),
            deserialize_defaulted::<_, Outer>(&doc, &[], &schema)
        );
    }

    #[test]
    fn mistakes_are_errors_not_panics() {
        for doc in [
            json!({"count": 2.5}),
            json!({"count": -1}),
            json!({"count": 1, "extra": true}),
            json!({"count": 1, "resourceRefs": []}),
            json!({"count": 1, "size": "huge"}),
            json!({"count": 1, "size": 3}),
            json!({"count": 1, "names": "a"}),
            json!("text"),
        ] {
            assert!(deserialize::<_, Doc>(&doc, &[]).is_err(), "{doc}");
            assert!(
                deserialize::<_, Doc>(&json_to_value(&doc), &[]).is_err(),
                "{doc}"
            );
        }
    }

    #[test]
    fn nodes_read_alike() {
        let doc = json!({"a": {"b": [1, "x", null, true, 1.5]}});
        let pb = json_to_value(&doc);
        fn kinds<N: Tree>(t: &N) -> Vec<&'static str> {
            let list = t.get("a").and_then(|a| a.get("b")).and_then(Tree::as_list);
            list.unwrap_or_default().iter().map(Tree::kind).collect()
        }
        assert_eq!(kinds(&doc), kinds(&pb));
        assert_eq!(
            kinds(&doc),
            ["a number", "a string", "null", "a boolean", "a number"]
        );
        assert_eq!(pb.get("a").map(|a| a.entries().count()), Some(1));
        assert_eq!(Tree::as_i64(&json_to_value(&json!(7.0))), Some(7));
        assert_eq!(Tree::as_i64(&json_to_value(&json!(7.5))), None);
    }
}
