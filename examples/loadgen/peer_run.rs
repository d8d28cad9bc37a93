//! `--peers`: our server against the functions users would otherwise run (`peers.rs`), each on
//! one core, with the transport floor as a reference line; prints the table BENCHMARKS.md
//! quotes in "Against the peers".

use crate::{
    child, kib,
    load::{self, Outcome, Plan},
    median, mib, ms,
    peers::{self, Programs, Started, LOAD_CORE, SERVER_CORE},
    us, Args, Failure,
};
use function_event_driven_service::proto::v1::RunFunctionRequest;
use prost::Message;

/// What the issue asks of our server against each peer, in calls per second.
const TARGETS: [(&str, f64); 2] = [("patch-and-transform", 25.0), ("python-sdk", 3.0)];
/// Resident memory our server may hold under load, in MiB.
const OUR_RSS_TARGET_MIB: f64 = 12.0;

/// Starts every server, drives each in turn for every round, prints the table.
pub fn run(args: &Args) -> Result<(), Failure> {
    if args.target.is_some() {
        return Err(Failure::Setup(
            "--peers starts every server itself; --target does not apply".into(),
        ));
    }
    let plan = crate::plan(args).map_err(Failure::Setup)?;
    let ours = crate::server_binary(args).map_err(Failure::Setup)?;
    let programs = Programs::find(ours, args.patch_and_transform.clone(), args.python.clone())
        .map_err(Failure::Setup)?;
    peers::pin_self(LOAD_CORE).map_err(Failure::Setup)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| Failure::Setup(format!("cannot start the client runtime: {e}")))?;

    let request = peers::request();
    let mut servers = peers::start(&runtime, &programs, &request).map_err(Failure::Setup)?;
    let floor = crate::start_floor(servers[0].answer.bytes(), Some(SERVER_CORE))
        .and_then(|floor| peers::first_call(&runtime, "floor", floor, &request, false))
        .map_err(Failure::Setup)?;
    if floor.answer.message() != servers[0].answer.message() {
        return Err(Failure::Setup(
            "the floor answers differently from our server".into(),
        ));
    }
    servers.push(floor);

    print_header(args, &plan, &request, &servers);
    let mut rounds: Vec<Vec<Outcome>> = servers.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.rounds {
        for (started, outcomes) in servers.iter().zip(&mut rounds) {
            let outcome = runtime
                .block_on(load::drive(
                    started.server.addr,
                    Some(started.server.pid()),
                    plan,
                    started.body.clone(),
                    started.answer.clone(),
                ))
                .map_err(Failure::Setup)?;
            crate::print_phase(round, started.name, &outcome);
            outcomes.push(outcome);
        }
    }
    let mut memory = Vec::new();
    for started in &servers {
        memory.push(started.server.memory().map_err(Failure::Setup)?);
    }
    print_table(&servers, &rounds, &memory);

    let mut problems = Vec::new();
    for (started, outcomes) in servers.into_iter().zip(&rounds) {
        let errors: usize = outcomes.iter().map(|o| o.errors).sum();
        if errors > 0 {
            let first = outcomes
                .iter()
                .find_map(|o| o.first_error.as_deref())
                .unwrap_or("");
            problems.push(format!(
                "{}: {errors} calls failed; the first: {first}",
                started.name
            ));
        }
        let name = started.name;
        if let Err(e) = started.stop() {
            problems.push(format!("{name}: {e}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Calls(problems.join("; ")))
    }
}

fn print_header(args: &Args, plan: &Plan, request: &RunFunctionRequest, servers: &[Started]) {
    println!("function-event-driven-service against its peers");
    println!(
        "  request     examples/agent-executor-claim.yaml, steady reconcile: XR + {} observed Objects ({:.1} KiB)",
        request.observed.as_ref().map_or(0, |o| o.resources.len()),
        kib(request.encoded_len())
    );
    crate::print_plan(args, plan);
    println!(
        "  cores       each server on core {SERVER_CORE}, the load generator on core {LOAD_CORE}; load average {}",
        crate::load_average()
    );
    for s in servers {
        println!(
            "  {:<19} answer {:.1} KiB, {} results",
            s.name,
            kib(s.answer.bytes().len()),
            s.answer.message().results.len()
        );
    }
    println!();
}

/// One server's medians over the rounds, and its memory after them.
struct Row {
    rate: f64,
    cpu: f64,
    p50: f64,
    p99: f64,
    rss: f64,
    peak: f64,
}

fn print_table(servers: &[Started], rounds: &[Vec<Outcome>], memory: &[child::Memory]) {
    let rows: Vec<Row> = rounds
        .iter()
        .zip(memory)
        .map(|(outcomes, mem)| {
            let of = |pick: &dyn Fn(&Outcome) -> f64| median(outcomes.iter().map(pick).collect());
            Row {
                rate: of(&|o| o.calls_per_second()),
                cpu: of(&|o| o.cpu_per_call().0.map_or(f64::NAN, us)),
                p50: of(&|o| ms(o.quantile(0.5))),
                p99: of(&|o| ms(o.quantile(0.99))),
                rss: mib(mem.rss_kib),
                peak: mib(mem.peak_kib),
            }
        })
        .collect();
    println!();
    println!(
        "  {:<21} {:>9} {:>10} {:>9} {:>9} {:>10} {:>10}",
        "median", "calls/s", "CPU/call", "p50 ms", "p99 ms", "RSS after", "peak RSS"
    );
    for (s, r) in servers.iter().zip(&rows) {
        let name = if s.name == "floor" {
            "floor (reference)"
        } else {
            s.name
        };
        println!(
            "  {name:<21} {:>9.0} {:>7.0} us {:>9.3} {:>9.3} {:>6.1} MiB {:>6.1} MiB",
            r.rate, r.cpu, r.p50, r.p99, r.rss, r.peak
        );
    }
    let ours = &rows[0];
    for (peer, target) in TARGETS {
        let Some(r) = servers
            .iter()
            .zip(&rows)
            .find_map(|(s, r)| (s.name == peer).then_some(r))
        else {
            continue;
        };
        println!(
            "  ours / {peer:<20} {:>6.1}x the calls/s (target {target}x), {:.1}x less CPU per call, {:.2}x the peak RSS",
            ours.rate / r.rate.max(f64::EPSILON),
            r.cpu / ours.cpu.max(f64::EPSILON),
            ours.peak / r.peak.max(f64::EPSILON)
        );
    }
    println!(
        "  our RSS under load   {:.1} MiB after, {:.1} MiB at peak (target at most {OUR_RSS_TARGET_MIB} MiB)",
        ours.rss, ours.peak
    );
}
