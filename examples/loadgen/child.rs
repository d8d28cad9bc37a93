//! A server running as a child process: started, watched through its start-up log line,
//! measured through /proc, and stopped with SIGTERM.

use serde_json::Value;
use std::{
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        mpsc::{self, Receiver, RecvTimeoutError},
        OnceLock,
    },
    time::{Duration, Instant},
};

/// Longest wait for the start-up log line; a server that never starts must not hang the run.
const STARTUP_GUARD: Duration = Duration::from_secs(30);
/// Longest wait for a clean exit after SIGTERM: above the server's 20 s drain timeout.
const EXIT_GUARD: Duration = Duration::from_secs(30);
/// How many log lines are kept to explain a failed start.
const LOG_KEPT: usize = 50;

/// A running server.
pub struct Server {
    child: Child,
    /// Where it listens, from its `serving` log line.
    pub addr: SocketAddr,
    /// When it was spawned.
    pub spawned: Instant,
    /// Spawn to the `serving` log line.
    pub to_serving: Duration,
    /// Its log lines after the `serving` one.
    lines: Receiver<String>,
}

/// Spawns `cmd`, writes `stdin` to it (then closes it), and waits for the JSON log line
/// `{"message":"serving","address":...}` on its stderr.
pub fn start(mut cmd: Command, stdin: Option<&[u8]>) -> Result<Server, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let spawned = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let mut server_stderr = child.stderr.take();
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Dropping the pipe afterwards closes it: the child reads to end of file.
        if let Err(e) = pipe.write_all(bytes) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("cannot write to {program}'s standard input: {e}"));
        }
    }
    let (tx, lines) = mpsc::channel();
    if let Some(stderr) = server_stderr.take() {
        // Drains stderr for the whole run, even once nobody reads the lines: a closed pipe
        // would make the server's next log line fail.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut server = Server {
        child,
        lines,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        spawned,
        to_serving: Duration::ZERO,
    };
    match wait_for_serving(&server.lines) {
        Ok(addr) => {
            server.to_serving = spawned.elapsed();
            server.addr = addr;
            Ok(server)
        }
        Err(e) => Err(format!("{program}: {e}")),
    }
}

/// The address named by the `serving` line, or why it never came.
fn wait_for_serving(lines: &Receiver<String>) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + STARTUP_GUARD;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                if parsed["message"] == "serving" {
                    return parsed["address"]
                        .as_str()
                        .and_then(|a| a.parse().ok())
                        .ok_or_else(|| format!("start-up line names no address: {line}"));
                }
                if seen.len() < LOG_KEPT {
                    seen.push(line);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!(
                    "exited before serving; it logged:\n{}",
                    seen.join("\n")
                ))
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "not serving after {STARTUP_GUARD:?}; it logged:\n{}",
                    seen.join("\n")
                ))
            }
        }
    }
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss_kib: u64,
    /// Highest resident so far (`VmHWM`).
    pub peak_kib: u64,
}

impl Server {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Current and peak resident memory from `/proc/<pid>/status`.
    pub fn memory(&self) -> Result<Memory, String> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| format!("{path} has no {name} line"))
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
        })
    }

    /// Sends SIGTERM and waits for a clean exit; kills the process if it outlives the guard.
    pub fn stop(mut self) -> Result<ExitStatus, String> {
        // The shell's `kill` keeps this tool free of unsafe FFI.
        let sent = Command::new("kill")
            .args(["-s", "TERM", &self.pid().to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -s TERM {} failed: {sent}", self.pid()));
        }
        let deadline = Instant::now() + EXIT_GUARD;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(status),
                Ok(Some(status)) => {
                    // Whatever it said last explains the failure.
                    let log: Vec<String> = self.lines.try_iter().collect();
                    let tail = &log[log.len().saturating_sub(LOG_KEPT)..];
                    return Err(format!(
                        "exited with {status} on SIGTERM; it logged:\n{}",
                        tail.join("\n")
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("cannot wait for pid {}: {e}", self.pid())),
            }
        }
        Err(format!(
            "pid {} still running {EXIT_GUARD:?} after SIGTERM; killed it",
            self.pid()
        ))
    }
}

/// CPU time (user and system, every thread) a process has used so far: `pid`, or this process.
pub fn cpu_time(pid: Option<u32>) -> Result<Duration, String> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    // Fields after the command name, which may itself hold spaces and parentheses: state is
    // field 3 of proc(5), utime 14 and stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok(Duration::from_secs_f64(
            (user + system) as f64 / clock_ticks_per_second(),
        )),
        _ => Err(format!("{path} has no utime and stime")),
    }
}

/// The unit of /proc's CPU times, asked of `getconf` once; Linux reports 100 on every
/// architecture this runs on, which is also the fallback.
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|ticks: &f64| *ticks > 0.0)
            .unwrap_or(100.0)
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        // Never leave a server behind, whatever path the run took.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
