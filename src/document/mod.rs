//! Documents as the function reads and writes them: JSON and protobuf `Struct`s.

pub mod convert;
pub mod tree;
