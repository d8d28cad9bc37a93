"""The repository, the release binary, and the binary serving: what every Python suite shares
(tests/conformance, with the official SDK as client, and tests/e2e, with Crossplane's own CLI,
nats-server and KEDA's scaler)."""

import contextlib
import json
import os
import pathlib
import queue
import subprocess
import threading
from dataclasses import dataclass

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_BINARY = REPO / "target" / "release" / "function-event-driven-service"

# Upper bound on waiting for start-up; a hang fails the run instead of stalling CI.
STARTUP_GUARD_SECONDS = 60


@dataclass
class Server:
    """The running binary."""

    address: str
    log: list


def function_binary() -> pathlib.Path:
    """The release binary, from FUNCTION_BINARY or cargo's default place."""
    binary = pathlib.Path(os.environ.get("FUNCTION_BINARY", DEFAULT_BINARY))
    if not binary.is_file():
        pytest.fail(f"{binary} not found: build it with `cargo build --release` first")
    return binary


def _read_lines(stream, lines: queue.Queue, log: list):
    for line in stream:
        log.append(line)
        lines.put(line)
    lines.put(None)


@contextlib.contextmanager
def serve(address: str = "127.0.0.1:0"):
    """The binary serving plaintext on `address` (port 0: an ephemeral port it reports in its
    log); stopped by SIGTERM at the end, which it must answer with exit 0."""
    env = {k: v for k, v in os.environ.items() if k != "TLS_SERVER_CERTS_DIR"}
    process = subprocess.Popen(
        [str(function_binary()), "--insecure", "--address", address],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue = queue.Queue()
    log: list = []
    # Keeps draining stderr so the binary never blocks on a full pipe.
    threading.Thread(target=_read_lines, args=(process.stderr, lines, log), daemon=True).start()
    serving = None
    try:
        while serving is None:
            line = lines.get(timeout=STARTUP_GUARD_SECONDS)
            if line is None:
                pytest.fail(f"the binary exited before serving:\n{''.join(log)}")
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # not a log event (a start-up error): the exit above reports it
            if event.get("message") == "serving":
                serving = event["address"]
        yield Server(address=serving, log=log)
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=STARTUP_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, f"the binary exited {code} after SIGTERM:\n{''.join(log)}"
