"""Fixtures every Python suite shares."""

import pytest

from function_server import serve


@pytest.fixture(scope="session")
def server():
    """The binary serving plaintext on an ephemeral loopback port."""
    with serve() as running:
        yield running
