//! A Crossplane composition function that turns one EventDrivenService into the Deployment,
//! Service, ServiceAccount and KEDA ScaledObject of a NATS JetStream worker.
//!
//! [`function::run`] is the whole composition logic as a pure function; the gRPC server and the
//! offline CLI are thin layers over it. Nothing is remembered between calls.

pub mod cli;
pub mod compose;
pub mod convert;
pub mod field_error;
pub mod fields;
pub mod function;
pub mod locate;
pub mod offline;
pub mod placement;
pub mod proto;
pub mod render;
pub mod schema;
pub mod server;
pub mod settings;
pub mod spec;
pub mod status;
pub mod tree;
pub mod validate;
