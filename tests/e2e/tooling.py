"""The pinned upstream tools the end-to-end tests run, as tests/e2e/tools/build.sh caches them,
and helpers to run them and the processes they need: every command bounded, every process
stopped by its PID, every failure with the output that explains it."""

import os
import pathlib
import shutil
import socket
import subprocess
import time

import pytest

from function_server import REPO

TOOLS = pathlib.Path(__file__).resolve().parent / "tools"
# The upstream schemas and CRDs (shared/ beside the repository, as CI lays it out).
SCHEMAS = pathlib.Path(os.environ.get("SHARED_SCHEMAS_DIR", REPO.parent / "shared" / "schemas"))
# Every command a test runs is bounded; one that hangs fails instead of stalling CI.
COMMAND_TIMEOUT_SECONDS = 120


def tool(name: str) -> pathlib.Path:
    """The cached binary of a pinned tool; fails with the command that builds it."""
    path = subprocess.run(
        ["bash", "-c", f'source "{TOOLS}/versions.sh" && tool_path {name}'],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    path = pathlib.Path(path)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built: run tests/e2e/tools/build.sh {name}")
    return path


def run(args, *, cwd=REPO, env=None, check=True, timeout=COMMAND_TIMEOUT_SECONDS):
    """Runs a command, bounded, and fails with its whole output when it fails."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports nothing listens on now."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def wait_for_port(port: int, process: subprocess.Popen, log: pathlib.Path, seconds: float = 30):
    """Waits, bounded, until something accepts on 127.0.0.1:port; fails with the log if the
    process exits or the time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited {process.returncode}:\n{log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"{process.args[0]} did not listen on {port} within {seconds}s:\n{log.read_text()}")


class Process:
    """A program started by a test: its log in a file, stopped by its PID at the end."""

    def __init__(self, args, log: pathlib.Path, cwd=None, env=None):
        self.log = log
        self._file = open(log, "w")
        self.process = subprocess.Popen(
            [str(a) for a in args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=self._file, stderr=subprocess.STDOUT,
        )

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._file.close()


def start_listening(start, count: int, log: pathlib.Path, attempts: int = 5):
    """Starts a server on `count` fresh loopback ports and waits, bounded, until it accepts on
    each. A port picked free can be taken by another program before the server binds it; when
    the server reports exactly that, it is started again on new ports, up to `attempts` times.
    `start(ports)` returns the server's Process; this returns (process, ports)."""
    for attempt in range(attempts):
        ports = free_ports(count)
        server = start(ports)
        deadline = time.monotonic() + 30
        waiting = list(ports)
        while waiting and time.monotonic() < deadline and server.process.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", waiting[0])) == 0:
                    waiting.pop(0)
                    continue
            time.sleep(0.1)
        if not waiting:
            return server, ports
        server.stop()
        text = log.read_text()
        if "address already in use" in text and attempt + 1 < attempts:
            continue
        pytest.fail(f"{server.process.args[0]} did not listen on {ports} "
                    f"(exit {server.process.returncode}):\n{text}")
    raise AssertionError("unreachable")
