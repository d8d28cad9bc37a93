//! Compiles the RunFunction contract with pure-Rust protox, so a fresh `cargo build` needs no protoc.
//!
//! Crossplane serves the same messages under two packages. `proto/` holds only v1; the v1beta1
//! file is derived here by changing the package line, so the two cannot drift.

use std::{env, fs, path::PathBuf};

const V1: &str = "proto/fn/v1/run_function.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={V1}");
    let out = PathBuf::from(env::var("OUT_DIR")?);

    let v1 = fs::read_to_string(V1)?;
    let package = "package apiextensions.fn.proto.v1;";
    if !v1.contains(package) {
        return Err(format!("{V1} no longer declares `{package}`").into());
    }
    let derived = out.join("derived");
    fs::create_dir_all(derived.join("fn/v1beta1"))?;
    fs::write(
        derived.join("fn/v1beta1/run_function.proto"),
        v1.replace(package, "package apiextensions.fn.proto.v1beta1;"),
    )?;

    let fds = protox::compile(
        ["fn/v1/run_function.proto", "fn/v1beta1/run_function.proto"],
        [PathBuf::from("proto"), derived],
    )?;
    fs::write(
        out.join("run_function_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        // Maps encode in key order, so the same request always yields the same response bytes.
        .btree_map(".")
        // v1beta1 messages are v1 messages on the wire: reuse the v1 types so both services
        // share one implementation and no conversion happens per call.
        .extern_path(".apiextensions.fn.proto.v1beta1", "crate::proto::v1")
        // The generated server is the server (src/server/mod.rs implements its trait for both
        // packages); the clients are for the tests and the load generator.
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
