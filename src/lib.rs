//! A Crossplane composition function that turns one EventDrivenService into the Deployment,
//! Service, ServiceAccount and KEDA ScaledObject of a NATS JetStream worker.
//!
//! [`function::run`] is the whole composition logic as a pure function; the gRPC server and the
//! offline CLI are thin layers over it. Nothing is remembered between calls. The layers, top to
//! bottom: [`cli`]; [`server`], [`doctor`] and [`offline`]; [`function`]; [`compose`] and `observed`;
//! [`api`]; [`document`] and [`proto`]. Each imports only layers below it.

pub mod api;
pub mod cli;
pub mod compose;
mod config_hash;
pub mod doctor;
pub mod document;
pub mod function;
mod observed;
pub mod offline;
pub mod proto;
pub mod server;
mod warnings;
