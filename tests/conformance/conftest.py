"""Hands the conformance tests a client for each protocol package, talking to the release
binary that tests/conftest.py starts.

The clients are the official Python SDK's generated stubs: an implementation of the
RunFunction contract that shares no code with the function.
"""

from dataclasses import dataclass
from types import ModuleType

import grpc
import pytest

import crossplane.function.proto.v1.run_function_pb2 as v1_pb2
import crossplane.function.proto.v1.run_function_pb2_grpc as v1_grpc
import crossplane.function.proto.v1beta1.run_function_pb2 as v1beta1_pb2
import crossplane.function.proto.v1beta1.run_function_pb2_grpc as v1beta1_grpc

from function_server import STARTUP_GUARD_SECONDS


@dataclass
class Protocol:
    """One protocol package: its messages, a stub, and its RunFunction method path."""

    name: str
    pb2: ModuleType
    stub: object
    method: str


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
