//! `doctor`: the ScaledObject a claim composes, checked against the NATS servers KEDA will
//! ask. It replays KEDA's nats-jetstream query on every node and says whether KEDA will read
//! the right lag, and what to change when it will not.

mod jsz;
mod monitoring;
mod nodes;
mod report;
mod scaler;
mod trigger;
mod verdicts;

use crate::offline::{self, render};
use clap::{Args, ValueEnum};
use monitoring::Monitoring;
use report::Report;
use std::{path::PathBuf, process::ExitCode, time::Duration};
use trigger::Target;

/// Exit code when KEDA will not read the right numbers.
pub const EXIT_PROBLEMS: u8 = 1;
/// Exit code when doctor cannot check: an unreadable or invalid claim or Input.
pub const EXIT_CANNOT_CHECK: u8 = 2;

/// The longest --timeout: an hour is already far beyond any KEDA polling interval.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Arguments of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A claim (kind EventDrivenService) or XR (kind XEventDrivenService).
    pub file: PathBuf,
    /// The function Input (kind Input) the platform renders with.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Treat a `kind: EventDrivenService` document as a Crossplane v2 namespaced XR.
    #[arg(long)]
    pub namespaced: bool,
    /// Monitoring endpoint (host:port) to ask instead of the trigger's; several: the nodes of
    /// a cluster (else they are found through the server's routes).
    #[arg(long = "monitoring", value_name = "HOST:PORT")]
    pub monitoring: Vec<String>,
    /// Seconds each request may take.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// `table` for people, `json` for scripts.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// How doctor prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A short table.
    Table,
    /// One JSON document.
    Json,
}

/// Runs `doctor`.
pub fn run(args: &DoctorArgs) -> ExitCode {
    let target = match read_target(args) {
        Ok(target) => target,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_CANNOT_CHECK);
        }
    };
    let timeout = match Duration::try_from_secs_f64(args.timeout) {
        Ok(timeout) if !timeout.is_zero() && timeout <= MAX_TIMEOUT => timeout,
        _ => {
            eprintln!(
                "error: --timeout {}: expected a positive number of seconds, at most {}",
                args.timeout,
                MAX_TIMEOUT.as_secs()
            );
            return ExitCode::from(EXIT_CANNOT_CHECK);
        }
    };
    let endpoints = match endpoints(&args.monitoring, &target) {
        Ok(endpoints) => endpoints,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_CANNOT_CHECK);
        }
    };
    let http = Monitoring::new(timeout);
    let report = examine(&target, &endpoints, !args.monitoring.is_empty(), &http);
    let text = match args.output {
        Output::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        Output::Table => report.table(),
    };
    print!("{text}");
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEMS)
    }
}

fn read_target(args: &DoctorArgs) -> Result<Target, String> {
    let (document, input) = offline::read_claim(&args.file, args.input.as_deref())?;
    let rendered = render::render_as(&document, input.as_ref(), &[], &[], args.namespaced)
        .map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            format!(
                "{}: cannot render:\n{}",
                args.file.display(),
                lines.join("\n")
            )
        })?;
    trigger::read(&rendered.resources).map_err(|e| format!("{}: {e}", args.file.display()))
}

/// The endpoints to ask, as host:port: those given (a scheme, if any, must agree with
/// useHttps, which is what KEDA goes by), else the trigger's.
fn endpoints(given: &[String], target: &Target) -> Result<Vec<String>, String> {
    if given.is_empty() {
        return Ok(vec![target.endpoint.clone()]);
    }
    given
        .iter()
        .map(|url| {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let rest = rest.trim_end_matches('/');
            if !scheme.is_empty() && scheme != target.scheme() {
                return Err(format!(
                    "--monitoring {url}: KEDA asks over {} (useHttps is {}); give host:port",
                    target.scheme(),
                    target.use_https
                ));
            }
            if rest.is_empty() || rest.contains('/') {
                return Err(format!("--monitoring {url}: expected host:port"));
            }
            Ok(rest.to_string())
        })
        .collect()
}

/// Asks the endpoints and judges the answers.
fn examine(target: &Target, endpoints: &[String], redirected: bool, http: &Monitoring) -> Report {
    let endpoint = &endpoints[0];
    let first = http.get_json::<jsz::Jsz>(&target.jsz_url(endpoint));
    let mut reading = scaler::replay(target, endpoint, http);
    let (accounts, nodes) = if first.is_ok() {
        (
            http.get_json::<jsz::Jsz>(&format!(
                "{}://{endpoint}/jsz?accounts=true&streams=true&consumers=true",
                target.scheme()
            )),
            nodes::survey(target, endpoints, http),
        )
    } else {
        (Err(String::new()), Vec::new())
    };
    let not_replayed = stand_in(target, &mut reading, &nodes, redirected);
    let (problems, advice) = verdicts::judge(&verdicts::Answers {
        target,
        first: &first,
        accounts: &accounts,
        nodes: &nodes,
        reading: &reading,
        not_replayed,
    });
    let account = first
        .as_ref()
        .ok()
        .and_then(|j| jsz::keda_account(j, &target.account, &target.account_id));
    // The leader's view of the stream and consumer, else the first answer's.
    let leader = nodes::consumer_leader(&nodes).map(str::to_string);
    let stream = account.and_then(|a| a.stream(&target.stream));
    let consumer = stream.and_then(|s| s.consumer(&target.consumer));
    let config = consumer.map(|c| &c.config);
    Report {
        ok: problems.is_empty(),
        endpoint: endpoint.clone(),
        reached: first.is_ok(),
        account: target.account.clone(),
        account_id: target.account_id.clone(),
        account_found: account.is_some(),
        accounts: accounts
            .as_ref()
            .map(|j| j.account_details.iter().map(|a| a.name.clone()).collect())
            .unwrap_or_default(),
        stream: target.stream.clone(),
        stream_found: stream.is_some(),
        stream_leader: nodes
            .iter()
            .find_map(|n| n.stream_leader.clone())
            .or_else(|| stream.and_then(|s| s.cluster.as_ref()?.leader.clone())),
        consumer: target.consumer.clone(),
        consumer_found: consumer.is_some(),
        consumer_leader: leader,
        delivery: config.map(|c| if c.is_push() { "push" } else { "pull" }),
        filter_subjects: config.map(|c| c.filters()).unwrap_or_default(),
        ack_wait_seconds: config.and_then(|c| c.ack_wait).map(|ns| ns as f64 / 1e9),
        max_ack_pending: config.and_then(|c| c.max_ack_pending),
        lag_threshold: target.lag_threshold,
        activation_lag_threshold: target.activation_lag_threshold,
        desired_replicas: scaler::desired_replicas(target, &reading),
        keda: reading,
        min_replicas: target.min_replicas,
        max_replicas: target.max_replicas,
        nodes,
        problems,
        advice,
    }
}

/// From outside the cluster (`--monitoring`, say through port-forwards) the hosts KEDA looks
/// the leader up at may not answer doctor though they answer KEDA. Then the consumer
/// leader's figures, read from the nodes given, stand in for KEDA's reading, and the lookup
/// that could not be replayed is returned to be told as advice.
fn stand_in(
    target: &Target,
    reading: &mut scaler::Reading,
    nodes: &[nodes::Node],
    redirected: bool,
) -> Option<String> {
    if !(redirected && reading.lookup_failed) {
        return None;
    }
    let leader = nodes::consumer_leader(nodes)?;
    let node = nodes.iter().find(|n| n.name == leader)?;
    let lag = node.lag?;
    reading.lag = Some(lag);
    reading.active = lag > target.activation_lag_threshold;
    reading.read_from = Some(node.name.clone());
    reading.error.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            endpoint: "nats-headless.nats.svc.cluster.local:8222".into(),
            account: "$G".into(),
            account_id: "$G".into(),
            stream: "JOBS".into(),
            consumer: "workers".into(),
            lag_threshold: 10,
            activation_lag_threshold: 0,
            use_https: false,
            min_replicas: 0,
            max_replicas: 10,
            paused: false,
            grace_period_seconds: 30,
        }
    }

    fn node(name: &str, lag: i64) -> nodes::Node {
        nodes::Node {
            name: name.into(),
            endpoint: format!("127.0.0.1:{}", 8222 + lag),
            consumer_leader: Some("nats-1".into()),
            lag: Some(lag),
            ..Default::default()
        }
    }

    fn failed(lookup_failed: bool) -> scaler::Reading {
        scaler::Reading {
            error: Some("http://10.0.0.5:8222/varz: connection refused".into()),
            lookup_failed,
            ..Default::default()
        }
    }

    #[test]
    fn the_leaders_figures_stand_in_only_for_a_lookup_from_outside() {
        let nodes = [node("nats-0", 3), node("nats-1", 10)];
        let cases = [
            ("port-forwards, lookup failed", true, true, Some(10), true),
            ("the trigger's own endpoint", false, true, None, false),
            ("the first request failed", true, false, None, false),
        ];
        for (reason, redirected, lookup_failed, lag, replaced) in cases {
            let mut reading = failed(lookup_failed);
            let note = stand_in(&target(), &mut reading, &nodes, redirected);
            assert_eq!((reading.lag, note.is_some()), (lag, replaced), "{reason}");
            assert_eq!(reading.error.is_none(), replaced, "{reason}");
            if replaced {
                assert_eq!(reading.read_from.as_deref(), Some("nats-1"), "{reason}");
                assert!(reading.active, "{reason}");
            }
        }
    }
}
