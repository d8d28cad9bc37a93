//! Cost of one `function::run` call.
//!
//! `cargo bench` prints the figures; nothing here asserts a time. BENCHMARKS.md records them.

mod requests;

// Measured with the allocator the server binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use function_event_driven_service::{
    function,
    proto::v1::{RunFunctionRequest, RunFunctionResponse},
};
use prost::Message;
use requests::{Case, TTL};
use std::{
    hint::black_box,
    thread,
    time::{Duration, Instant},
};

/// Answers `req` as the function would, failing the bench loudly if the fixture is malformed.
fn answer(req: &RunFunctionRequest) -> RunFunctionResponse {
    function::run(req, TTL)
        .unwrap_or_else(|e| unreachable!("fixture requests are well formed: {e}"))
}

/// `function::run` per kind of request, from the first reconcile of a minimal claim to a
/// steady reconcile of a claim with 64 secrets (the most the API allows), and a request mostly
/// made of earlier steps' state.
fn run_per_case(c: &mut Criterion) {
    let mut group = c.benchmark_group("run");
    for (name, case) in Case::NAMED {
        let req = case.request();
        // Report the request size next to the time, so the cost per byte can be read off.
        group.throughput(Throughput::Bytes(req.encoded_len() as u64));
        group.bench_function(name, |b| b.iter(|| answer(black_box(&req))));
    }
    group.finish();
}

/// How the cost grows with the number of `secretRefs`, all four resources observed.
fn secret_refs_growth(c: &mut Criterion) {
    let mut group = c.benchmark_group("run_observed_by_secret_refs");
    for n in [0, 10, 64] {
        let req = Case::Observed(n).request();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &req, |b, req| {
            b.iter(|| answer(black_box(req)))
        });
    }
    group.finish();
}

/// How long the thread sleeps before each call in `after_idle` (at least; the sleep may last
/// longer). Chosen because it reproduces what `run` costs inside the loaded server, where the
/// thread also waits on the network and decodes, encodes and shares its core with the clients
/// between two calls.
const IDLE: Duration = Duration::from_micros(300);

/// `run` as the loaded server meets it: not back to back, but after a pause, on a request
/// decoded just before, as the server decodes the request that has just arrived. After the
/// pause the caches no longer hold what `run` touches, so the same call costs more than in
/// the loops above. Only the call (and dropping its answer) is timed: not the pause, not the
/// decoding, not dropping the request.
fn after_idle(c: &mut Criterion) {
    let bytes = Case::Observed(2).request().encode_to_vec();
    let mut group = c.benchmark_group("after_idle_observed");
    group.bench_function("run", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                thread::sleep(IDLE);
                let req = RunFunctionRequest::decode(bytes.as_slice())
                    .unwrap_or_else(|e| unreachable!("the fixture request decodes: {e}"));
                let start = Instant::now();
                black_box(answer(black_box(&req)));
                spent += start.elapsed();
                drop(req);
            }
            spent
        })
    });
    // The load generator's floor answers with a clone of one response: its handler after the
    // same pause, for comparison. The clone and dropping it are timed, as `run` and its answer.
    let canned = answer(&Case::Observed(2).request());
    group.bench_function("clone_response", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                thread::sleep(IDLE);
                let start = Instant::now();
                black_box(black_box(&canned).clone());
                spent += start.elapsed();
            }
            spent
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short windows keep `cargo bench` to a couple of minutes on two cores; the cases differ
    // by far more than the noise this leaves.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = run_per_case, secret_refs_growth, after_idle
}
criterion_main!(benches);
