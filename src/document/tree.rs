//! Read-only access to a JSON-shaped document, whether it arrived as `serde_json::Value` (the
//! offline CLI reading YAML) or as a protobuf `Value` (the server reading a request).
//!
//! The status report, readiness and the config hash read the observed resources through
//! [`Tree`], so the server reads them where they are in the request instead of converting
//! each into JSON first. The spec and the Input are read through serde (`api`).

use super::convert::whole;
use prost_types::{value::Kind, Struct, Value as PbValue};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::convert::json_to_value;
    use serde_json::json;

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
