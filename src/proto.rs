//! Generated RunFunction types for both protocol packages.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `apiextensions.fn.proto.v1`: what Crossplane 1.17 and later call first.
pub mod v1 {
    tonic::include_proto!("apiextensions.r#fn.proto.v1");
}

/// `apiextensions.fn.proto.v1beta1`: the same messages under the package older Crossplane calls.
pub mod v1beta1 {
    tonic::include_proto!("apiextensions.r#fn.proto.v1beta1");
}

/// Encoded descriptors of both packages, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/run_function_descriptor.bin"));
