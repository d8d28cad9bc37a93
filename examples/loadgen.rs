//! End-to-end load on the real server, compared with a transport floor in the same run.
//!
//! ```sh
//! cargo run --release --example loadgen -- [--clients N] [--duration SECS] [--target ADDR]
//! ```
//!
//! Without `--target` it builds and starts `function-event-driven-service --insecure --address
//! 127.0.0.1:0`, times spawn to first answer, and reads the server's memory from /proc. Then it
//! drives the server, and a stock tonic server answering a canned copy of the same response
//! (the floor), with the same concurrent clients for the same time, and prints calls/s, p50,
//! p99 and errors for both and the ratio ours/floor. With `--peers` it measures the server
//! against function-patch-and-transform and a function on the official Python SDK instead,
//! each pinned to one core (`loadgen/peer_run.rs`). It exits 1 if any call failed or any
//! answer differed from the first one, 2 if it could not set the run up. BENCHMARKS.md has
//! the figures.

#[path = "../tests/harness/raw_codec.rs"]
mod raw_codec;
#[path = "../benches/requests/mod.rs"]
mod requests;

// This file is the crate root, so its modules are found relative to examples/.
#[path = "loadgen/child.rs"]
mod child;
#[path = "loadgen/floor.rs"]
mod floor;
#[path = "loadgen/load.rs"]
mod load;
#[path = "loadgen/peer_run.rs"]
mod peer_run;
#[path = "loadgen/peers.rs"]
mod peers;

// The floor runs in this process: it allocates with the server's allocator, so the two differ
// only in their handlers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::Bytes;
use clap::Parser;
use function_event_driven_service::proto::v1::{
    function_runner_service_client::FunctionRunnerServiceClient, RunFunctionRequest,
    RunFunctionResponse,
};
use load::{Answer, Outcome, Plan};
use prost::Message;
use requests::Case;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    sync::Arc,
    time::{Duration, Instant},
};

/// Name of the server binary next to this example in the target directory.
const BINARY: &str = "function-event-driven-service";
/// Longest wait for the first answer once the server logged that it serves.
const FIRST_ANSWER_GUARD: Duration = Duration::from_secs(10);
/// Most rounds a run may ask for, so a typo cannot keep the machine busy for hours.
const MAX_ROUNDS: usize = 20;
/// Longest measured phase accepted, for the same reason.
const MAX_DURATION_SECS: f64 = 600.0;

/// Load test of the RunFunction server against a transport floor.
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Args {
    /// Concurrent clients, each with one call in flight at a time.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// HTTP/2 connections the clients share; Crossplane keeps one per function.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Seconds of measured load per server and round.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unmeasured load before each measured phase.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Rounds of (ours, floor); more rounds even out a noisy machine. Medians are reported.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// A server already listening on a loopback address, instead of starting the binary.
    #[arg(long)]
    target: Option<SocketAddr>,
    /// The server binary to start; built and taken from this example's target directory if unset.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Request to send: minimal, full, observed, secrets64 or passthrough.
    #[arg(long, default_value = "observed")]
    case: String,
    /// Worker threads of the clients' runtime; they share the machine with the server.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Cap on measured calls per client, whatever the duration.
    #[arg(long, default_value_t = 1_000_000)]
    max_calls: usize,
    /// Measure ours against function-patch-and-transform and the Python SDK, each pinned to one
    /// core (the floor as a reference); --case and --target do not apply.
    #[arg(long)]
    peers: bool,
    /// function-patch-and-transform's binary for --peers; default: where tests/e2e/tools/build.sh
    /// caches it.
    #[arg(long)]
    patch_and_transform: Option<PathBuf>,
    /// The Python with the official SDK for --peers; default: .venv/bin/python of this repository.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Serve the floor (reads the canned response from standard input); used by the run itself.
    #[arg(long, hide = true)]
    serve_floor: bool,
}

/// Why a run stopped.
enum Failure {
    /// The run could not be set up; nothing was measured.
    Setup(String),
    /// Calls failed, answers differed, or a server did not stop cleanly.
    Calls(String),
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.serve_floor {
        return floor::main();
    }
    let outcome = if args.peers {
        peer_run::run(&args)
    } else {
        run(&args)
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Calls(e)) => {
            eprintln!("loadgen: FAILED: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Setup(e)) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

/// What the run learnt about our server before the load.
struct Ours {
    process: Option<child::Server>,
    addr: SocketAddr,
    binary: Option<(PathBuf, u64)>,
    first_answer: Option<(Duration, Duration)>,
    idle: Option<child::Memory>,
}

fn run(args: &Args) -> Result<(), Failure> {
    let plan = plan(args).map_err(Failure::Setup)?;
    let case = Case::NAMED
        .iter()
        .find(|(name, _)| *name == args.case)
        .map(|(_, case)| *case)
        .ok_or_else(|| {
            let names: Vec<_> = Case::NAMED.iter().map(|(n, _)| *n).collect();
            Failure::Setup(format!(
                "unknown --case {:?}; one of: {}",
                args.case,
                names.join(", ")
            ))
        })?;
    if cfg!(debug_assertions) {
        eprintln!("loadgen: warning: built without --release; the figures mean little");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| Failure::Setup(format!("cannot start the client runtime: {e}")))?;

    let request = case.request();
    let body = Bytes::from(request.encode_to_vec());
    let mut ours = start_ours(args, &runtime, &request)?;
    let expected = runtime
        .block_on(load::call(connect(&runtime, ours.addr)?, body.clone()))
        .and_then(Answer::new)
        .map(Arc::new)
        .map_err(|e| Failure::Setup(format!("our server: {e}")))?;
    check_answer(&request, &expected, args.target.is_some())?;
    if let Some(process) = &ours.process {
        ours.idle = Some(process.memory().map_err(Failure::Setup)?);
    }

    let floor = start_floor(expected.bytes(), None).map_err(Failure::Setup)?;
    let floor_first = runtime
        .block_on(load::call(connect(&runtime, floor.addr)?, body.clone()))
        .map_err(|e| Failure::Setup(format!("floor server: {e}")))?;
    if floor_first != expected.bytes() {
        return Err(Failure::Setup(
            "the floor answers differently from our server".into(),
        ));
    }

    print_header(args, case, &plan, &body, expected.bytes(), &ours);
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        let ours_pid = ours.process.as_ref().map(child::Server::pid);
        let mine = phase(&runtime, ours.addr, ours_pid, plan, &body, &expected)?;
        print_phase(round, "ours", &mine);
        let base = phase(
            &runtime,
            floor.addr,
            Some(floor.pid()),
            plan,
            &body,
            &expected,
        )?;
        print_phase(round, "floor", &base);
        rounds.push((mine, base));
    }
    let ours_peak = match &ours.process {
        Some(p) => Some(p.memory().map_err(Failure::Setup)?),
        None => None,
    };
    let floor_peak = floor.memory().map_err(Failure::Setup)?;
    print_summary(&rounds, &ours, ours_peak, floor_peak);

    let mut problems = Vec::new();
    let errors: usize = rounds.iter().map(|(m, b)| m.errors + b.errors).sum();
    if errors > 0 {
        let first = rounds
            .iter()
            .flat_map(|(m, b)| [&m.first_error, &b.first_error])
            .find_map(Option::as_ref)
            .map_or("", String::as_str);
        problems.push(format!("{errors} calls failed; the first: {first}"));
    }
    for (name, process) in [("our server", ours.process.take()), ("floor", Some(floor))] {
        if let Some(process) = process {
            if let Err(e) = process.stop() {
                problems.push(format!("{name}: {e}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Calls(problems.join("; ")))
    }
}

/// The load plan from the flags, refusing values that would not stop in reasonable time.
fn plan(args: &Args) -> Result<Plan, String> {
    let seconds = |name: &str, v: f64| {
        if v.is_finite() && (0.0..=MAX_DURATION_SECS).contains(&v) {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(format!(
                "--{name} must be between 0 and {MAX_DURATION_SECS} seconds (got {v})"
            ))
        }
    };
    if !(1..=MAX_ROUNDS).contains(&args.rounds) {
        return Err(format!("--rounds must be between 1 and {MAX_ROUNDS}"));
    }
    if args.clients == 0 || args.connections == 0 || args.max_calls == 0 {
        return Err("--clients, --connections and --max-calls must be at least 1".into());
    }
    if let Some(target) = args.target {
        // Load goes to this machine only.
        if !target.ip().is_loopback() {
            return Err(format!(
                "--target must be a loopback address (got {target})"
            ));
        }
    }
    let duration = seconds("duration", args.duration)?;
    if duration.is_zero() {
        return Err("--duration must be above 0".into());
    }
    Ok(Plan {
        clients: args.clients,
        connections: args.connections.min(args.clients),
        warmup: seconds("warmup", args.warmup)?,
        duration,
        max_calls_per_client: args.max_calls,
    })
}

fn connect(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
) -> Result<tonic::transport::Channel, Failure> {
    runtime
        .block_on(load::connect(addr))
        .map_err(Failure::Setup)
}

/// Starts our binary (unless `--target` names a running server) and times its first answer.
fn start_ours(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    request: &RunFunctionRequest,
) -> Result<Ours, Failure> {
    if let Some(addr) = args.target {
        return Ok(Ours {
            process: None,
            addr,
            binary: None,
            first_answer: None,
            idle: None,
        });
    }
    let binary = server_binary(args).map_err(Failure::Setup)?;
    let size = std::fs::metadata(&binary)
        .map_err(|e| Failure::Setup(format!("cannot read {}: {e}", binary.display())))?
        .len();
    let mut cmd = Command::new(&binary);
    cmd.args(["--insecure", "--address", "127.0.0.1:0"])
        .env_remove("TLS_SERVER_CERTS_DIR");
    let process = child::start(cmd, None).map_err(Failure::Setup)?;
    let first = runtime
        .block_on(first_answer(process.addr, request))
        .map_err(Failure::Setup)?;
    let to_first_answer = process.spawned.elapsed();
    if first.meta.as_ref().map(|m| m.tag.as_str()) != Some("benchmark") {
        return Err(Failure::Setup(
            "the first answer does not carry the request's tag".into(),
        ));
    }
    Ok(Ours {
        addr: process.addr,
        first_answer: Some((process.to_serving, to_first_answer)),
        process: Some(process),
        binary: Some((binary, size)),
        idle: None,
    })
}

/// Starts the floor (this program again) on `core`, if given, serving `canned`.
fn start_floor(canned: &[u8], core: Option<usize>) -> Result<child::Server, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this program: {e}"))?;
    let mut cmd = child::command(exe, core);
    cmd.arg("--serve-floor");
    child::start(cmd, Some(canned))
}

/// The first successful RunFunction through the generated client, retried until it answers.
async fn first_answer(
    addr: SocketAddr,
    request: &RunFunctionRequest,
) -> Result<RunFunctionResponse, String> {
    let deadline = Instant::now() + FIRST_ANSWER_GUARD;
    let mut last = String::new();
    while Instant::now() < deadline {
        match load::connect(addr).await {
            Ok(channel) => {
                let mut client = FunctionRunnerServiceClient::new(channel)
                    .max_decoding_message_size(load::MAX_MESSAGE)
                    .max_encoding_message_size(load::MAX_MESSAGE);
                match client.run_function(request.clone()).await {
                    Ok(answer) => return Ok(answer.into_inner()),
                    Err(status) => last = format!("{:?}: {}", status.code(), status.message()),
                }
            }
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(format!(
        "no answer within {FIRST_ANSWER_GUARD:?} of serving: {last}"
    ))
}

/// The server binary: `--binary`, or the one next to this example, built first so the run
/// never measures a stale binary.
fn server_binary(args: &Args) -> Result<PathBuf, String> {
    if let Some(binary) = &args.binary {
        return Ok(binary.clone());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this program: {e}"))?;
    // <target>/<profile>/examples/loadgen -> <target>/<profile>/function-event-driven-service
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(BINARY))
        .ok_or_else(|| format!("{} is not inside a target directory", exe.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    // Building this example alongside keeps the dev-dependency features the example was built
    // with (as `cargo test --release` builds the binary too); a bare `--bin` build resolves
    // features without them and recompiles TLS and tonic crates on every switch.
    build
        .args(["build", "--quiet", "--bin", BINARY, "--example", "loadgen"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // `cargo run` describes this package to the program in CARGO_MANIFEST_DIR, CARGO_PKG_*
    // and OUT_DIR; some build scripts (ring's) track those variables, so passing them on would
    // rebuild half the tree each run.
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text == "OUT_DIR"
            || [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_",
            ]
            .iter()
            .any(|prefix| name_text.starts_with(prefix))
        {
            build.env_remove(&name);
        }
    }
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo to build {BINARY}: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --bin {BINARY} failed: {status}"));
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "{} is missing after the build; pass --binary",
            binary.display()
        ))
    }
}

/// The answer (for a server this run started) must be exactly what this build's
/// `function::run` returns: a stale or different binary is caught before it is measured.
fn check_answer(
    request: &RunFunctionRequest,
    answer: &Answer,
    external: bool,
) -> Result<(), Failure> {
    if external {
        return Ok(());
    }
    let local = function_event_driven_service::function::run(request, requests::TTL)
        .map_err(|e| Failure::Setup(format!("the request is malformed: {e}")))?;
    if *answer.message() != local {
        return Err(Failure::Setup(
            "the server answers differently from this build's function::run; is the binary stale?"
                .into(),
        ));
    }
    Ok(())
}

fn phase(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    pid: Option<u32>,
    plan: Plan,
    body: &Bytes,
    expected: &Arc<Answer>,
) -> Result<Outcome, Failure> {
    runtime
        .block_on(load::drive(addr, pid, plan, body.clone(), expected.clone()))
        .map_err(Failure::Setup)
}

/// What a case sends, in words.
fn label(case: Case) -> String {
    match case {
        Case::Minimal => "minimal claim, nothing observed".into(),
        Case::Full => "full claim, nothing observed".into(),
        Case::Observed(n) => format!("full claim with {n} secretRefs, all 4 resources observed"),
        Case::PassThrough => "minimal claim + 1 MiB of earlier steps' desired state".into(),
    }
}

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The header's line on the load: clients, connections, phases, rounds.
fn print_plan(args: &Args, plan: &Plan) {
    println!(
        "  load        {} clients on {} connection(s), {:.1} s warm-up + {:.1} s measured, {} round(s)",
        plan.clients,
        plan.connections,
        plan.warmup.as_secs_f64(),
        plan.duration.as_secs_f64(),
        args.rounds
    );
}

/// The host's load average over 1, 5 and 15 minutes, from /proc/loadavg.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_header(args: &Args, case: Case, plan: &Plan, body: &Bytes, expected: &Bytes, ours: &Ours) {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!("function-event-driven-service load test");
    println!(
        "  request     {} ({:.1} KiB; answer {:.1} KiB)",
        label(case),
        kib(body.len()),
        kib(expected.len())
    );
    print_plan(args, plan);
    println!(
        "  machine     {cpus} CPUs, load average {} (clients share the CPUs, {} runtime thread(s))",
        load_average(),
        args.client_threads.max(1)
    );
    match &ours.binary {
        Some((path, size)) => {
            println!(
                "  binary      {} {size} bytes ({:.1} MiB)",
                path.display(),
                mib(size / 1024)
            );
        }
        None => println!("  server      {} (--target)", ours.addr),
    }
    if let Some((serving, answered)) = ours.first_answer {
        println!(
            "  start-up    serving {:.1} ms, first answer {:.1} ms after spawn",
            ms(serving),
            ms(answered)
        );
    }
    if let Some(idle) = ours.idle {
        println!("  idle RSS    {:.1} MiB", mib(idle.rss_kib));
    }
    println!();
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn print_phase(round: usize, name: &str, o: &Outcome) {
    let (server, client) = o.cpu_per_call();
    let server = server.map_or_else(|| "?".to_string(), |cpu| format!("{:.0}", us(cpu)));
    println!(
        "  round {round} {name:<19}  {:>7.0} calls/s  p50 {:>6.3} ms  p99 {:>6.3} ms  errors {}  \
         CPU/call server {server} us, clients {:.0} us",
        o.calls_per_second(),
        ms(o.quantile(0.50)),
        ms(o.quantile(0.99)),
        o.errors,
        us(client)
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn print_summary(
    rounds: &[(Outcome, Outcome)],
    ours: &Ours,
    ours_peak: Option<child::Memory>,
    floor_peak: child::Memory,
) {
    let of = |pick: &dyn Fn(&(Outcome, Outcome)) -> f64| median(rounds.iter().map(pick).collect());
    let ours_rate = of(&|(m, _)| m.calls_per_second());
    let floor_rate = of(&|(_, b)| b.calls_per_second());
    let ratio = of(&|(m, b)| m.calls_per_second() / b.calls_per_second().max(f64::EPSILON));
    println!();
    let server_cpu = |o: &Outcome| o.cpu_per_call().0.map_or(f64::NAN, us);
    // A server the run did not start has no CPU figure.
    let cpu_text = |cpu: f64| {
        if cpu.is_nan() {
            "?".to_string()
        } else {
            format!("{cpu:.0} us")
        }
    };
    println!(
        "  {:<11} {:>10} {:>10} {:>10} {:>7} {:>15}",
        "median", "calls/s", "p50 ms", "p99 ms", "errors", "server CPU/call"
    );
    for (name, rate, p50, p99, errors, cpu) in [
        (
            "ours",
            ours_rate,
            of(&|(m, _)| ms(m.quantile(0.5))),
            of(&|(m, _)| ms(m.quantile(0.99))),
            rounds.iter().map(|(m, _)| m.errors).sum::<usize>(),
            of(&|(m, _)| server_cpu(m)),
        ),
        (
            "floor",
            floor_rate,
            of(&|(_, b)| ms(b.quantile(0.5))),
            of(&|(_, b)| ms(b.quantile(0.99))),
            rounds.iter().map(|(_, b)| b.errors).sum::<usize>(),
            of(&|(_, b)| server_cpu(b)),
        ),
    ] {
        println!(
            "  {name:<11} {rate:>10.0} {p50:>10.3} {p99:>10.3} {errors:>7} {:>15}",
            cpu_text(cpu)
        );
    }
    println!(
        "  ours/floor  {:.1} % of the floor's throughput",
        ratio * 100.0
    );
    match (ours.idle, ours_peak) {
        (Some(idle), Some(peak)) => println!(
            "  memory      ours idle {:.1} MiB, peak {:.1} MiB; floor peak {:.1} MiB",
            mib(idle.rss_kib),
            mib(peak.peak_kib),
            mib(floor_peak.peak_kib)
        ),
        _ => println!(
            "  memory      floor peak {:.1} MiB",
            mib(floor_peak.peak_kib)
        ),
    }
}
