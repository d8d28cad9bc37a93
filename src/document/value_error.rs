//! What reading and writing documents share: the error of a value without the shape asked
//! for, and when a double (all numbers in a protobuf `Struct` are doubles) is an integer.

use serde::{de, ser};
use std::fmt;

/// Why a value does not have the shape asked for: a map key that is neither a string nor a
/// number when serialising into a `Struct`, a field of the wrong type when deserialising a
/// [`Tree`](super::tree::Tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
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
