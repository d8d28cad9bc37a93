//! One RunFunction call over gRPC, one at a time, to our server and to the peers users would run
//! instead: function-patch-and-transform and a function on the official Python SDK, each pinned
//! to one core, on the request of the load generator's `--peers` run (examples/loadgen/peers.rs).
//!
//! Criterion gives the latency of a lone call here; throughput on a loaded core, CPU per call
//! and memory come from `cargo run --release --example loadgen -- --peers` (BENCHMARKS.md,
//! "Against the peers"). A peer that is not built is named with the command that builds it,
//! and the others are measured.

#[path = "../examples/loadgen/child.rs"]
#[allow(dead_code)] // the load generator's process handling; the bench starts and stops
mod child;
#[path = "../examples/loadgen/load.rs"]
#[allow(dead_code)] // the load generator's load loop; the bench makes single calls
mod load;
#[path = "../examples/loadgen/peers.rs"]
mod peers;
#[path = "../tests/harness/raw_codec.rs"]
mod raw_codec;
#[allow(dead_code)] // the requests of the other benches
mod requests;

use criterion::{criterion_group, criterion_main, Criterion};
use std::{path::PathBuf, time::Duration};

fn peers(c: &mut Criterion) {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_function-event-driven-service"));
    let programs = match peers::Programs::find(ours, None, None) {
        Ok(programs) => programs,
        Err(e) => {
            eprintln!("peers: not measured: {e}");
            return;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
    if let Err(e) = peers::pin_self(peers::LOAD_CORE) {
        eprintln!("peers: not measured: {e}");
        return;
    }
    let request = peers::request();
    let started = peers::start(&runtime, &programs, &request)
        .unwrap_or_else(|e| panic!("cannot start the peers: {e}"));
    let mut group = c.benchmark_group("peers");
    for server in &started {
        let channel = runtime
            .block_on(load::connect(server.server.addr))
            .unwrap_or_else(|e| panic!("{}: {e}", server.name));
        group.bench_function(server.name, |b| {
            b.iter(|| {
                runtime
                    .block_on(load::call(channel.clone(), server.body.clone()))
                    .unwrap_or_else(|e| panic!("{}: {e}", server.name))
            })
        });
    }
    group.finish();
    for server in started {
        let name = server.name;
        if let Err(e) = server.stop() {
            panic!("{name}: {e}");
        }
    }
}

criterion_group! {
    name = benches;
    // patch-and-transform takes milliseconds a call: a few hundred calls in the window are
    // enough to tell the three apart by far more than the noise.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = peers
}
criterion_main!(benches);
