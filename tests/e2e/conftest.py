"""Fixtures of the end-to-end suite: the pinned tools."""

import os
import shutil

import pytest

from tooling import SCHEMAS, tool


@pytest.fixture(scope="session")
def crossplane():
    """Crossplane's CLI (crossplane/cli)."""
    return tool("crossplane")


@pytest.fixture(scope="session")
def crossplane_core():
    """Crossplane's core binary, whose `internal render` is the engine the CLI runs locally."""
    return tool("crossplane-core")


@pytest.fixture(scope="session")
def tools_on_path(tmp_path_factory, crossplane, crossplane_core):
    """An environment where `crossplane` is the pinned CLI and CROSSPLANE_CORE the pinned core,
    as the README's commands expect."""
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "crossplane").symlink_to(crossplane)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["CROSSPLANE_CORE"] = str(crossplane_core)
    env["PROVIDER_KUBERNETES_CRDS"] = str(SCHEMAS / "provider-kubernetes" / "v1.2.1")
    assert shutil.which("crossplane", path=env["PATH"]) == str(bin_dir / "crossplane")
    return env
