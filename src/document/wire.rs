//! Protobuf `Struct`s on the wire, where prost's generated coding does more than a call needs.
//!
//! - Decoding keeps only the parts of a document a [`View`] names and skips the rest unread:
//!   Crossplane sends each observed resource whole, and a provider-kubernetes Object twice over
//!   (`spec.forProvider.manifest` and `status.atProvider.manifest`), while the function reads
//!   a few fields of each.
//! - Encoding computes each nested message's length once ([`Lengths`]). prost computes a
//!   message's length again at every level above it, which for a Kubernetes manifest (a dozen
//!   levels of `Struct` in `Value` in `Struct`) costs more than writing the bytes.
//!
//! Both give the bytes and values prost gives; the tests compare them. What differs is only on
//! input no encoder writes, or in an error's wording:
//! - The parts a view skips are not decoded, so nothing in them is checked: not their depth,
//!   wire types, UTF-8 or nested lengths. Only their own length is.
//! - prost's limit of 100 nested levels counts again from where a view hands a part to prost.
//! - A decoding error names what prost found, without the path of messages above it.

use prost::{
    bytes::BufMut,
    encoding::{
        bool, check_wire_type, decode_key, decode_varint, double, encode_key, encode_varint,
        encoded_len_varint, int32, key_len, skip_field, string, DecodeContext, WireType,
    },
    DecodeError, Message,
};
use prost_types::{value::Kind, ListValue, Struct, Value};

/// `Struct.fields`, the kinds of `Value`, `ListValue.values`.
const STRUCT_FIELDS: u32 = 1;
const VALUE_NULL: u32 = 1;
const VALUE_NUMBER: u32 = 2;
const VALUE_STRING: u32 = 3;
const VALUE_BOOL: u32 = 4;
const VALUE_STRUCT: u32 = 5;
const VALUE_LIST: u32 = 6;
const LIST_VALUES: u32 = 1;
/// Key and value of a map entry.
pub const ENTRY_KEY: u32 = 1;
/// See [`ENTRY_KEY`].
pub const ENTRY_VALUE: u32 = 2;

/// The parts of a document to decode: the fields listed, each with its own view, and every
/// other field whole (`rest: true`) or not at all.
#[derive(Debug)]
pub struct View {
    /// Fields read in part.
    pub fields: &'static [(&'static str, &'static View)],
    /// Whether the fields not listed are read whole.
    pub rest: bool,
}

/// A whole document.
pub static WHOLE: View = View {
    fields: &[],
    rest: true,
};

impl View {
    fn of(&self, key: &str) -> Option<&'static View> {
        match self.fields.iter().find(|(name, _)| *name == key) {
            Some((_, view)) => Some(view),
            None => self.rest.then_some(&WHOLE),
        }
    }

    fn is_whole(&self) -> bool {
        std::ptr::eq(self, &WHOLE)
    }
}

/// One field of an encoded message: its tag and wire type, its whole encoding (key included)
/// and, when length-delimited, its payload.
pub struct Field<'a> {
    /// Field number.
    pub tag: u32,
    /// Wire type.
    pub wire_type: WireType,
    /// Key and value as encoded, for [`Message::merge`].
    pub encoded: &'a [u8],
    /// The value as encoded (a length-delimited one with its length), for prost's decoders.
    pub value: &'a [u8],
    /// The bytes of a length-delimited field, empty otherwise.
    pub payload: &'a [u8],
    /// Where the field ends in the message.
    pub end: usize,
}

/// Calls `each` on every field of the message `bytes`, in order; malformed bytes are prost's
/// error.
pub fn fields<'a>(
    message: &'a [u8],
    mut each: impl FnMut(Field<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut bytes = message;
    while !bytes.is_empty() {
        let start = bytes;
        let (tag, wire_type) = decode_key(&mut bytes)?;
        let value = bytes;
        skip_field(wire_type, tag, &mut bytes, DecodeContext::default())?;
        let value = &value[..value.len() - bytes.len()];
        let payload = if wire_type == WireType::LengthDelimited {
            let mut rest = value;
            decode_varint(&mut rest)?;
            rest
        } else {
            &[]
        };
        each(Field {
            tag,
            wire_type,
            encoded: &start[..start.len() - bytes.len()],
            value,
            payload,
            end: message.len() - bytes.len(),
        })?;
    }
    Ok(())
}

/// Merges the encoded `Struct` `bytes` into `into`, keeping what `view` names.
pub fn merge_struct(into: &mut Struct, bytes: &[u8], view: &View) -> Result<(), DecodeError> {
    if view.is_whole() {
        return into.merge(bytes);
    }
    fields(bytes, |field| {
        if field.tag != STRUCT_FIELDS {
            return Ok(());
        }
        check_wire_type(WireType::LengthDelimited, field.wire_type)?;
        if let Some((key, value)) = entry(field.payload, view)? {
            into.fields.insert(key, value);
        }
        Ok(())
    })
}

/// A map entry of `Struct.fields`, `None` when `view` does not read its key.
fn entry(bytes: &[u8], view: &View) -> Result<Option<(String, Value)>, DecodeError> {
    let mut value = Value::default();
    let key = string_entry(bytes, |key, payload| match view.of(key) {
        Some(view) => merge_value(&mut value, payload, view),
        None => Ok(()),
    })?;
    Ok(view.of(&key).map(|_| (key, value)))
}

/// Reads a map entry whose key is a string: returns the key, and hands each occurrence of the
/// value (a message) to `value`, in order, with the key as the whole entry gives it.
pub fn string_entry(
    bytes: &[u8],
    mut value: impl FnMut(&str, &[u8]) -> Result<(), DecodeError>,
) -> Result<String, DecodeError> {
    // The key may come after the value, or twice: it is read first, in a pass of its own.
    let mut key = String::new();
    fields(bytes, |field| match field.tag {
        ENTRY_KEY => string::merge(
            field.wire_type,
            &mut key,
            &mut { field.value },
            DecodeContext::default(),
        ),
        _ => Ok(()),
    })?;
    fields(bytes, |field| match field.tag {
        ENTRY_VALUE => {
            check_wire_type(WireType::LengthDelimited, field.wire_type)?;
            value(&key, field.payload)
        }
        _ => Ok(()),
    })?;
    Ok(key)
}

/// Merges the encoded `Value` `bytes` into `into`, keeping what `view` names of a struct.
fn merge_value(into: &mut Value, bytes: &[u8], view: &View) -> Result<(), DecodeError> {
    if view.is_whole() {
        return into.merge(bytes);
    }
    fields(bytes, |field| {
        if field.tag != VALUE_STRUCT || field.wire_type != WireType::LengthDelimited {
            return into.merge(field.encoded);
        }
        if !matches!(into.kind, Some(Kind::StructValue(_))) {
            into.kind = Some(Kind::StructValue(Struct::default()));
        }
        match &mut into.kind {
            Some(Kind::StructValue(s)) => merge_struct(s, field.payload, view),
            _ => Ok(()),
        }
    })
}

/// The lengths of the nested messages of what is encoded, measured in the order they are
/// written: first [`Lengths::of_struct`] (and the caller's own [`Lengths::slot`]s) for
/// everything, then [`Lengths::write_struct`] (and the caller's [`Lengths::begin`]s) in the
/// same order.
#[derive(Debug, Default)]
pub struct Lengths {
    all: Vec<usize>,
    next: usize,
}

impl Lengths {
    /// Reserves the next length, for a message of the caller's; see [`Lengths::set`].
    pub fn slot(&mut self) -> usize {
        self.all.push(0);
        self.all.len() - 1
    }

    /// Records the length of the message `slot` was reserved for, and returns it.
    pub fn set(&mut self, slot: usize, len: usize) -> usize {
        self.all[slot] = len;
        len
    }

    /// Writes the key of field `tag` and the next length: the start of a measured message.
    pub fn begin(&mut self, tag: u32, buf: &mut impl BufMut) {
        encode_key(tag, WireType::LengthDelimited, buf);
        let len = self.peek();
        self.next += 1;
        encode_varint(len as u64, buf);
    }

    /// Whether every length measured has been written.
    pub fn is_done(&self) -> bool {
        self.next == self.all.len()
    }

    /// The next length while writing, without moving on.
    pub fn peek(&self) -> usize {
        debug_assert!(self.next < self.all.len(), "written past what was measured");
        self.all.get(self.next).copied().unwrap_or_default()
    }

    /// Measures the encoded body of `s`.
    pub fn of_struct(&mut self, s: &Struct) -> usize {
        let slot = self.slot();
        let len = s
            .fields
            .iter()
            .map(|(key, value)| {
                let len = self.of_value(value);
                delimited(
                    STRUCT_FIELDS,
                    entry_len(key, value.kind.is_some().then_some(len)),
                )
            })
            .sum();
        self.set(slot, len)
    }

    fn of_value(&mut self, v: &Value) -> usize {
        match &v.kind {
            Some(Kind::StructValue(s)) => delimited(VALUE_STRUCT, self.of_struct(s)),
            Some(Kind::ListValue(l)) => {
                let slot = self.slot();
                let len = l
                    .values
                    .iter()
                    .map(|v| delimited(LIST_VALUES, self.of_value(v)))
                    .sum();
                delimited(VALUE_LIST, self.set(slot, len))
            }
            _ => v.encoded_len(),
        }
    }

    /// The length of `v` once measured, without moving on.
    fn measured_value(&self, v: &Value) -> usize {
        match &v.kind {
            Some(Kind::StructValue(_)) => delimited(VALUE_STRUCT, self.peek()),
            Some(Kind::ListValue(_)) => delimited(VALUE_LIST, self.peek()),
            _ => v.encoded_len(),
        }
    }

    /// Writes `s` as field `tag`.
    pub fn write_struct(&mut self, tag: u32, s: &Struct, buf: &mut impl BufMut) {
        self.begin(tag, buf);
        for (key, value) in &s.fields {
            let len = value.kind.is_some().then(|| self.measured_value(value));
            begin_entry(STRUCT_FIELDS, key, len, buf);
            if let Some(len) = len {
                encode_key(ENTRY_VALUE, WireType::LengthDelimited, buf);
                encode_varint(len as u64, buf);
                self.write_value(value, buf);
            }
        }
    }

    fn write_value(&mut self, v: &Value, buf: &mut impl BufMut) {
        match &v.kind {
            Some(Kind::StructValue(s)) => self.write_struct(VALUE_STRUCT, s, buf),
            Some(Kind::ListValue(ListValue { values })) => {
                self.begin(VALUE_LIST, buf);
                for value in values {
                    let len = self.measured_value(value);
                    encode_key(LIST_VALUES, WireType::LengthDelimited, buf);
                    encode_varint(len as u64, buf);
                    self.write_value(value, buf);
                }
            }
            Some(Kind::NullValue(n)) => int32::encode(VALUE_NULL, n, buf),
            Some(Kind::NumberValue(n)) => double::encode(VALUE_NUMBER, n, buf),
            Some(Kind::StringValue(s)) => string::encode(VALUE_STRING, s, buf),
            Some(Kind::BoolValue(b)) => bool::encode(VALUE_BOOL, b, buf),
            None => {}
        }
    }
}

/// A length-delimited field of `len` bytes, key and length included.
pub fn delimited(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// A map entry with a string key and a message value `value` bytes long (`None`: left out).
/// As prost does, an empty key is left out too.
pub fn entry_len(key: &str, value: Option<usize>) -> usize {
    let key = if key.is_empty() {
        0
    } else {
        delimited(ENTRY_KEY, key.len())
    };
    key + value.map_or(0, |len| delimited(ENTRY_VALUE, len))
}

/// Writes the start of such an entry as field `tag`: its key and length, then the string key.
/// The value, if any, follows as field [`ENTRY_VALUE`].
pub fn begin_entry(tag: u32, key: &str, value: Option<usize>, buf: &mut impl BufMut) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(entry_len(key, value) as u64, buf);
    if !key.is_empty() {
        encode_key(ENTRY_KEY, WireType::LengthDelimited, buf);
        encode_varint(key.len() as u64, buf);
        buf.put_slice(key.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Reads `metadata` whole, `spec.replicas` and the rest of `status` but its `secret`.
    static SAMPLE: View = View {
        fields: &[
            ("metadata", &WHOLE),
            ("spec", &SAMPLE_SPEC),
            ("status", &SAMPLE_STATUS),
        ],
        rest: false,
    };
    static SAMPLE_SPEC: View = View {
        fields: &[("replicas", &WHOLE)],
        rest: false,
    };
    static SAMPLE_STATUS: View = View {
        fields: &[("secret", &NOTHING)],
        rest: true,
    };
    static NOTHING: View = View {
        fields: &[],
        rest: false,
    };

    /// Values of every kind, and none, under names the sample view reads and names it skips,
    /// the empty name (which prost leaves out of the encoding) among them.
    fn any_value() -> impl Strategy<Value = Value> {
        let names = prop::sample::select(vec![
            "metadata", "spec", "status", "replicas", "secret", "other", "",
        ]);
        let leaf = prop_oneof![
            Just(Value { kind: None }),
            (0..3i32).prop_map(|n| Value {
                kind: Some(Kind::NullValue(n))
            }),
            any::<f64>()
                .prop_filter("NaN differs from itself", |n| !n.is_nan())
                .prop_map(|n| Value {
                    kind: Some(Kind::NumberValue(n))
                }),
            "[ -~]{0,8}".prop_map(|s| Value {
                kind: Some(Kind::StringValue(s))
            }),
            any::<bool>().prop_map(|b| Value {
                kind: Some(Kind::BoolValue(b))
            }),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|values| Value {
                    kind: Some(Kind::ListValue(ListValue { values }))
                }),
                prop::collection::vec((names.clone(), inner), 0..6).prop_map(|entries| Value {
                    kind: Some(Kind::StructValue(document(entries)))
                }),
            ]
        })
    }

    fn any_struct() -> impl Strategy<Value = Struct> {
        any_value().prop_map(|value| match value.kind {
            Some(Kind::StructValue(s)) => s,
            other => document(vec![("status", Value { kind: other })]),
        })
    }

    fn document(entries: Vec<(&str, Value)>) -> Struct {
        Struct {
            fields: entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    /// What the view should leave of a whole document, written the plain way.
    fn pruned(mut s: Struct, view: &View) -> Struct {
        if std::ptr::eq(view, &WHOLE) {
            return s;
        }
        s.fields.retain(|key, value| {
            let listed = view.fields.iter().find(|(name, _)| name == key);
            if let (Some((_, inner)), Some(Kind::StructValue(s))) = (listed, &mut value.kind) {
                *s = pruned(std::mem::take(s), inner);
            }
            listed.is_some() || view.rest
        });
        s
    }

    fn encoded_once(s: &Struct) -> Vec<u8> {
        let mut lengths = Lengths::default();
        lengths.of_struct(s);
        let mut buf = Vec::new();
        lengths.write_struct(3, s, &mut buf);
        buf
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn encoding_once_gives_prosts_bytes(s in any_struct()) {
            let mut prost = Vec::new();
            prost::encoding::message::encode(3, &s, &mut prost);
            prop_assert_eq!(encoded_once(&s), prost);
        }

        #[test]
        fn a_view_keeps_what_it_names_and_only_that(s in any_struct()) {
            let bytes = s.encode_to_vec();
            for view in [&WHOLE, &SAMPLE, &NOTHING] {
                let mut read = Struct::default();
                merge_struct(&mut read, &bytes, view).expect("prost's own bytes decode");
                prop_assert_eq!(read, pruned(s.clone(), view));
            }
        }

        #[test]
        fn any_bytes_prost_reads_are_read_and_none_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
            s in any_struct(),
            cut in any::<prop::sample::Index>(),
        ) {
            let whole = s.encode_to_vec();
            let truncated = &whole[..cut.index(whole.len() + 1)];
            for bytes in [bytes.as_slice(), truncated] {
                let mut read = Struct::default();
                let ours = merge_struct(&mut read, bytes, &SAMPLE);
                if let Ok(theirs) = Struct::decode(bytes) {
                    prop_assert!(ours.is_ok(), "{ours:?}");
                    prop_assert_eq!(read, pruned(theirs, &SAMPLE));
                }
            }
        }
    }

    /// A `Struct.fields` entry of the given fields, in that order.
    fn entry_of(fields: &[(u32, &[u8])]) -> Vec<u8> {
        let mut entry = Vec::new();
        for (tag, bytes) in fields {
            prost::encoding::bytes::encode(*tag, &bytes.to_vec(), &mut entry);
        }
        let mut encoded = Vec::new();
        prost::encoding::bytes::encode(STRUCT_FIELDS, &entry, &mut encoded);
        encoded
    }

    #[test]
    fn the_last_key_of_an_entry_chooses_its_view_and_its_values_merge() {
        let flag = Value {
            kind: Some(Kind::BoolValue(true)),
        };
        let value = Value {
            kind: Some(Kind::StructValue(document(vec![
                ("replicas", flag.clone()),
                ("other", flag),
            ]))),
        }
        .encode_to_vec();
        let more = Value {
            kind: Some(Kind::StructValue(document(vec![(
                "replicas",
                Value {
                    kind: Some(Kind::NumberValue(3.0)),
                },
            )]))),
        }
        .encode_to_vec();
        let unusual: [&[(u32, &[u8])]; 4] = [
            // The value twice: prost merges the second into the first.
            &[
                (ENTRY_KEY, b"spec"),
                (ENTRY_VALUE, &value),
                (ENTRY_VALUE, &more),
            ],
            &[(ENTRY_VALUE, &value), (ENTRY_KEY, b"spec")],
            &[
                (ENTRY_KEY, b"spec"),
                (ENTRY_VALUE, &value),
                (ENTRY_KEY, b"metadata"),
            ],
            &[
                (ENTRY_KEY, b"other"),
                (ENTRY_VALUE, &value),
                (ENTRY_KEY, b"spec"),
            ],
        ];
        for fields in unusual {
            let bytes = entry_of(fields);
            let theirs = Struct::decode(bytes.as_slice()).expect("well formed");
            let mut read = Struct::default();
            merge_struct(&mut read, &bytes, &SAMPLE).expect("well formed");
            assert_eq!(read, pruned(theirs, &SAMPLE), "{fields:?}");
        }
    }
}
