//! The servers users would run instead of ours, started beside it on the same request.
//!
//! Each server runs pinned to one core (`taskset -c 1`) and the caller to the other, so what a
//! server does per second is one core's worth. The request is a steady reconcile of
//! `examples/agent-executor-claim.yaml`: its XR and the four Objects our function composes for
//! it, observed Ready with their live status. Each server gets its own Input and the same
//! observed state:
//!
//! - ours: the release binary, no Input (its defaults);
//! - function-patch-and-transform (Go, function-sdk-go), built by `tests/e2e/tools/build.sh`,
//!   with the seed design's Composition step, `benches/peers/patch-and-transform.yaml`;
//! - a function on the official Python SDK, `benches/peers/python_function.py`, run by the
//!   conformance suite's virtual environment.
//!
//! Shared by the load generator's `--peers` run and `cargo bench`'s `peers` group.

use crate::{
    child::{self, Server},
    load::{self, Answer},
    requests,
};
use bytes::Bytes;
use function_event_driven_service::proto::v1::{RunFunctionRequest, Severity};
use prost::Message;
use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

/// The core every server runs on.
pub const SERVER_CORE: usize = 1;
/// The core of the caller (clients, and the caller's other threads).
pub const LOAD_CORE: usize = 0;
/// Longest wait for a server's first answer: Python imports grpc and the SDK first.
const FIRST_ANSWER_GUARD: Duration = Duration::from_secs(30);
/// The Input function-patch-and-transform runs: the seed design's Composition step.
const PATCH_AND_TRANSFORM_INPUT: &str =
    include_str!("../../benches/peers/patch-and-transform.yaml");
/// The Python peer, relative to the repository.
const PYTHON_FUNCTION: &str = "benches/peers/python_function.py";
/// The Objects every server must compose, by composition resource name.
const OBJECTS: [&str; 4] = ["serviceaccount", "deployment", "service", "scaledobject"];
/// The repository, where the peers' files are.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Where the programs are.
pub struct Programs {
    /// Our server binary.
    pub ours: PathBuf,
    /// function-patch-and-transform's binary.
    pub patch_and_transform: PathBuf,
    /// A Python with the official SDK installed.
    pub python: PathBuf,
}

impl Programs {
    /// `ours`, and the peers where they are given, else where this repository makes them:
    /// refused, with the command that makes it, if one is missing.
    pub fn find(
        ours: PathBuf,
        patch_and_transform: Option<PathBuf>,
        python: Option<PathBuf>,
    ) -> Result<Self, String> {
        let patch_and_transform = match patch_and_transform {
            Some(path) => path,
            None => tool_path("function-patch-and-transform")?,
        };
        let python = python.unwrap_or_else(|| Path::new(ROOT).join(".venv/bin/python"));
        for (path, how) in [
            (&patch_and_transform, "tests/e2e/tools/build.sh function-patch-and-transform"),
            (
                &python,
                "python3 -m venv .venv && .venv/bin/pip install -r tests/conformance/requirements.txt",
            ),
        ] {
            if !path.is_file() {
                return Err(format!(
                    "{} is missing; make it with `{how}`, or name another with --patch-and-transform / --python",
                    path.display()
                ));
            }
        }
        Ok(Self {
            ours,
            patch_and_transform,
            python,
        })
    }
}

/// A server started and answering.
pub struct Started {
    /// How the tables name it.
    pub name: &'static str,
    /// The process.
    pub server: Server,
    /// Its request, encoded.
    pub body: Bytes,
    /// Its first answer, which every later one must equal.
    pub answer: Arc<Answer>,
    /// Go's runtime ends the process by SIGTERM; the others exit 0.
    pub dies_by_signal: bool,
}

impl Started {
    /// Stops the process, as its runtime stops.
    pub fn stop(self) -> Result<(), String> {
        let stopped = if self.dies_by_signal {
            self.server.stop_dying()
        } else {
            self.server.stop()
        };
        stopped.map(drop)
    }
}

/// The request every server gets, before its own Input.
pub fn request() -> RunFunctionRequest {
    requests::observed(requests::agent_executor_xr())
}

/// Starts ours, function-patch-and-transform and the Python function on [`SERVER_CORE`], each
/// checked by its first answer.
pub fn start(
    runtime: &tokio::runtime::Runtime,
    programs: &Programs,
    request: &RunFunctionRequest,
) -> Result<Vec<Started>, String> {
    let mut cmd = child::command(&programs.ours, Some(SERVER_CORE));
    cmd.args(["--insecure", "--address", "127.0.0.1:0"])
        .env_remove("TLS_SERVER_CERTS_DIR");
    let ours = first_call(runtime, "ours", child::start(cmd, None)?, request, false)?;
    check_ours(request, &ours.answer)?;

    let mut with_input = request.clone();
    let input: serde_json::Value = serde_yaml::from_str(PATCH_AND_TRANSFORM_INPUT)
        .map_err(|e| format!("benches/peers/patch-and-transform.yaml: {e}"))?;
    with_input.input = requests::resource(&input).resource;
    let addr = free_port()?;
    let mut cmd = child::command(&programs.patch_and_transform, Some(SERVER_CORE));
    cmd.args(["--insecure", "--address", &addr.to_string()]);
    let server = child::start_at(cmd, addr)?;
    let pt = first_call(runtime, "patch-and-transform", server, &with_input, true)?;

    let addr = free_port()?;
    let mut cmd = child::command(&programs.python, Some(SERVER_CORE));
    cmd.arg(Path::new(ROOT).join(PYTHON_FUNCTION))
        .args(["--address", &addr.to_string()]);
    let server = child::start_at(cmd, addr)?;
    let python = first_call(runtime, "python-sdk", server, request, false)?;
    for peer in [&pt, &python] {
        same_objects(&ours, peer)?;
    }
    Ok(vec![ours, pt, python])
}

/// The peer must compose the very Objects ours does (their `spec`: the manifest, provider and
/// readiness), so the servers do the same work. Metadata may differ: patch-and-transform copies
/// the observed Object's name into its desired one.
fn same_objects(ours: &Started, peer: &Started) -> Result<(), String> {
    let object = |s: &Started, key: &str| {
        s.answer
            .message()
            .desired
            .as_ref()
            .and_then(|d| d.resources.get(key))
            .and_then(|r| r.resource.as_ref())
            .and_then(|o| o.fields.get("spec"))
            .cloned()
    };
    let differ: Vec<&str> = OBJECTS
        .into_iter()
        .filter(|key| object(ours, key) != object(peer, key))
        .collect();
    if differ.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} composes {} differently from ours",
            peer.name,
            differ.join(", ")
        ))
    }
}

/// The cached path of a tool `tests/e2e/tools/build.sh` builds, as `versions.sh` names it.
fn tool_path(tool: &str) -> Result<PathBuf, String> {
    let versions = Path::new(ROOT).join("tests/e2e/tools/versions.sh");
    let out = Command::new("bash")
        .args(["-c", "source \"$1\" && tool_path \"$2\"", "tool_path"])
        .arg(&versions)
        .arg(tool)
        .output()
        .map_err(|e| format!("cannot run bash to read {}: {e}", versions.display()))?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || path.is_empty() {
        return Err(format!(
            "{} names no path for {tool}: {}",
            versions.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(PathBuf::from(path))
}

/// Moves every thread of this process to `core`; threads started later inherit it.
pub fn pin_self(core: usize) -> Result<(), String> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    // Cores 0 and 1: the caller's and the servers'.
    if cpus < 2 {
        return Err(format!(
            "the servers and their caller run on different cores; this machine has {cpus}"
        ));
    }
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string()])
        .arg(std::process::id().to_string())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run taskset (util-linux): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "taskset could not pin this process to core {core}: {status}"
        ))
    }
}

/// A loopback port nobody listens on now, for a peer that takes its address as a flag and does
/// not report it: the port stays free for the moment between this call and the peer's bind.
fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

/// Calls `server` until it answers `request` (or exits, or the guard runs out), and checks the
/// answer composes the four Objects without a Fatal result.
pub fn first_call(
    runtime: &tokio::runtime::Runtime,
    name: &'static str,
    mut server: Server,
    request: &RunFunctionRequest,
    dies_by_signal: bool,
) -> Result<Started, String> {
    let body = Bytes::from(request.encode_to_vec());
    let deadline = Instant::now() + FIRST_ANSWER_GUARD;
    let mut last = String::new();
    let bytes = loop {
        if let Some(why) = server.exited() {
            return Err(format!("{name}: {why}"));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{name}: no answer within {FIRST_ANSWER_GUARD:?}: {last}"
            ));
        }
        let answer = runtime.block_on(async {
            let channel = load::connect(server.addr).await?;
            load::call(channel, body.clone()).await
        });
        match answer {
            Ok(bytes) => break bytes,
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let answer = Answer::new(bytes).map_err(|e| format!("{name}: {e}"))?;
    let message = answer.message();
    if let Some(fatal) = message
        .results
        .iter()
        .find(|r| r.severity == Severity::Fatal as i32)
    {
        return Err(format!("{name} refuses the request: {}", fatal.message));
    }
    let composed = message.desired.as_ref().map(|d| &d.resources);
    let missing: Vec<&str> = OBJECTS
        .into_iter()
        .filter(|key| !composed.is_some_and(|c| c.contains_key(*key)))
        .collect();
    if !missing.is_empty() {
        return Err(format!("{name} did not compose {}", missing.join(", ")));
    }
    Ok(Started {
        name,
        server,
        body,
        answer: Arc::new(answer),
        dies_by_signal,
    })
}

/// Our answer must be what this build's `function::run` returns: a stale binary is refused.
fn check_ours(request: &RunFunctionRequest, answer: &Answer) -> Result<(), String> {
    let local = function_event_driven_service::function::run(request, requests::TTL)
        .map_err(|e| format!("the request is malformed: {e}"))?;
    if *answer.message() != local {
        return Err(
            "our server answers differently from this build's function::run; is the binary stale?"
                .into(),
        );
    }
    Ok(())
}
