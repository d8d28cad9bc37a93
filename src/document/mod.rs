//! Documents as the function reads and writes them: JSON and protobuf `Struct`s.

pub mod convert;
pub mod schema;
pub mod shape;
pub mod tree;
