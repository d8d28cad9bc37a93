//! A server running as a child process: started, watched through its start-up log line,
//! measured through /proc, and stopped with SIGTERM.

use serde_json::Value;
use std::{
    ffi::OsStr,
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    os::unix::process::ExitStatusExt,
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
/// The signal number of SIGTERM on Linux.
const SIGTERM: i32 = 15;

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

/// `program` as a command, run on CPU `core` only when one is given (through `taskset`, which
/// execs the program: the process id stays the server's).
pub fn command(program: impl AsRef<OsStr>, core: Option<usize>) -> Command {
    match core {
        Some(core) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(core.to_string()).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// Spawns `cmd`, writes `stdin` to it (then closes it), and waits for the JSON log line
/// `{"message":"serving","address":...}` on its stderr.
pub fn start(cmd: Command, stdin: Option<&[u8]>) -> Result<Server, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut server = spawn(cmd, stdin)?;
    match wait_for_serving(&server.lines) {
        Ok(addr) => {
            server.to_serving = server.spawned.elapsed();
            server.addr = addr;
            Ok(server)
        }
        Err(e) => Err(format!("{program}: {e}")),
    }
}

/// Spawns `cmd`, which serves at `addr` without saying when: the caller finds out by calling.
pub fn start_at(cmd: Command, addr: SocketAddr) -> Result<Server, String> {
    let mut server = spawn(cmd, None)?;
    server.addr = addr;
    Ok(server)
}

/// Spawns `cmd` with `stdin` written to it and its stderr drained into [`Server::lines`].
fn spawn(mut cmd: Command, stdin: Option<&[u8]>) -> Result<Server, String> {
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
    Ok(Server {
        child,
        lines,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        spawned,
        to_serving: Duration::ZERO,
    })
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

    /// Why the process is gone, with what it logged last; `None` while it runs.
    pub fn exited(&mut self) -> Option<String> {
        let status = match self.child.try_wait() {
            Ok(None) => return None,
            Ok(Some(status)) => status.to_string(),
            Err(e) => format!("cannot be waited for: {e}"),
        };
        Some(format!(
            "exited ({status}); it logged:\n{}",
            self.log_tail()
        ))
    }

    /// The last lines it logged that nobody read yet.
    fn log_tail(&self) -> String {
        let log: Vec<String> = self.lines.try_iter().collect();
        log[log.len().saturating_sub(LOG_KEPT)..].join("\n")
    }

    /// Sends SIGTERM and waits for a clean exit; kills the process if it outlives the guard.
    pub fn stop(self) -> Result<ExitStatus, String> {
        self.stop_as(false)
    }

    /// As [`Server::stop`], for a program that leaves SIGTERM to its runtime's default, which
    /// ends the process by the signal (Go's does).
    pub fn stop_dying(self) -> Result<ExitStatus, String> {
        self.stop_as(true)
    }

    fn stop_as(mut self, dies_by_signal: bool) -> Result<ExitStatus, String> {
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
                Ok(Some(status)) if dies_by_signal && status.signal() == Some(SIGTERM) => {
                    return Ok(status)
                }
                Ok(Some(status)) => {
                    // Whatever it said last explains the failure.
                    return Err(format!(
                        "exited with {status} on SIGTERM; it logged:\n{}",
                        self.log_tail()
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
