"""Starts the release binary once and hands tests a client for each protocol package.

The clients are the official Python SDK's generated stubs: an implementation of the
RunFunction contract that shares no code with the function.
"""

import json
import os
import pathlib
import queue
import subprocess
import threading
from dataclasses import dataclass
from types import ModuleType

import grpc
import pytest

import crossplane.function.proto.v1.run_function_pb2 as v1_pb2
import crossplane.function.proto.v1.run_function_pb2_grpc as v1_grpc
import crossplane.function.proto.v1beta1.run_function_pb2 as v1beta1_pb2
import crossplane.function.proto.v1beta1.run_function_pb2_grpc as v1beta1_grpc

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO / "target" / "release" / "function-event-driven-service"

# Upper bound on waiting for start-up; a hang fails the run instead of stalling CI.
STARTUP_GUARD_SECONDS = 60


@dataclass
class Server:
    """The running binary."""

    address: str
    log: list


@dataclass
class Protocol:
    """One protocol package: its messages, a stub, and its RunFunction method path."""

    name: str
    pb2: ModuleType
    stub: object
    method: str


def _read_lines(stream, lines: queue.Queue, log: list):
    for line in stream:
        log.append(line)
        lines.put(line)
    lines.put(None)


@pytest.fixture(scope="session")
def server():
    """The binary serving plaintext on an ephemeral loopback port it reports in its log."""
    binary = pathlib.Path(os.environ.get("FUNCTION_BINARY", DEFAULT_BINARY))
    if not binary.is_file():
        pytest.fail(f"{binary} not found: build it with `cargo build --release` first")
    env = {k: v for k, v in os.environ.items() if k != "TLS_SERVER_CERTS_DIR"}
    process = subprocess.Popen(
        [str(binary), "--insecure", "--address", "127.0.0.1:0"],
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
    address = None
    try:
        while address is None:
            line = lines.get(timeout=STARTUP_GUARD_SECONDS)
            if line is None:
                pytest.fail(f"the binary exited before serving:\n{''.join(log)}")
            event = json.loads(line)
            if event.get("message") == "serving":
                address = event["address"]
        yield Server(address=address, log=log)
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=STARTUP_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, f"the binary exited {code} after SIGTERM:\n{''.join(log)}"


@pytest.fixture(scope="session")
def channel(server):
    """One plaintext channel to the binary."""
    with grpc.insecure_channel(server.address) as ch:
        grpc.channel_ready_future(ch).result(timeout=STARTUP_GUARD_SECONDS)
        yield ch


@pytest.fixture(params=["v1", "v1beta1"])
def protocol(request, channel) -> Protocol:
    """Each test runs against both packages Crossplane may call."""
    if request.param == "v1":
        return Protocol(
            "v1",
            v1_pb2,
            v1_grpc.FunctionRunnerServiceStub(channel),
            "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction",
        )
    return Protocol(
        "v1beta1",
        v1beta1_pb2,
        v1beta1_grpc.FunctionRunnerServiceStub(channel),
        "/apiextensions.fn.proto.v1beta1.FunctionRunnerService/RunFunction",
    )
