"""The README's commands, run as written: every `crossplane composition render`, `crossplane
xpkg build`, `crossplane xpkg push`, `crossplane resource validate`, `package/image.sh`, `sed -i`
and `cargo run --release --` line of its shell blocks, on a clean checkout, with `crossplane`
the pinned CLI, `$CROSSPLANE_CORE` the pinned core and `$XPKG_REGISTRY` a `crane registry
serve` on loopback. What the README shows is what CI ran, so the two cannot drift.

Not run, as the README says: what needs a cluster (`xpkg install`, `kubectl`), the `export`
that names the published registry (the test names its own), and the `&` line that starts the
server, which the test starts itself on an ephemeral port; the render commands get the one
flag that points Crossplane there instead of at localhost:9443. image.sh is given the static
binary CI built (STATIC_BINARY), so the test does not build it again.
"""

import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import tarfile

import pytest
import yaml

from function_server import REPO, function_binary, serve
from tooling import Process, run, start_listening, tool

RUN = (
    "crossplane composition render", "crossplane xpkg build", "crossplane xpkg push",
    "crossplane resource validate", "package/image.sh", "sed -i", "cargo run --release --",
)
STATIC_BINARY = pathlib.Path(os.environ.get(
    "STATIC_BINARY", REPO / "target" / "x86_64-unknown-linux-gnu" / "release" / "function-event-driven-service"))
PACKAGES = ["function-event-driven-service", "configuration-event-driven-service", "configuration-event-driven-service-v2"]


def readme_commands() -> list:
    """The shell commands of the README, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", command).strip()
            if command:
                commands.append(re.sub(r"\s+", " ", command))
    return commands


COMMANDS = [c for c in readme_commands() if c.startswith(RUN) and not c.endswith("&")]


def test_the_readme_commands_are_found():
    builds = [c for c in COMMANDS if c.startswith("crossplane xpkg build")]
    assert len(builds) == 3, builds
    assert any("--embed-runtime-image-tarball=runtime.tar" in c for c in builds), "the function with its image"
    pushes = [c for c in COMMANDS if c.startswith("crossplane xpkg push")]
    assert [p.split("$XPKG_REGISTRY/")[1].split(":")[0] for p in pushes] == PACKAGES, pushes
    assert any(c.startswith("crossplane composition render") for c in COMMANDS)


@pytest.mark.parametrize("meta", ["crossplane.yaml", "apis/v2/crossplane.yaml", "package/crossplane.yaml"])
def test_package_metadata_comments_give_the_readme_build_command(meta):
    """Each package's metadata says how to build it; that must be the README's command."""
    comment = "\n".join(
        line.removeprefix("#").strip() for line in (REPO / meta).read_text().splitlines() if line.startswith("#")
    )
    (command,) = re.findall(r"^crossplane xpkg build .*?(?:\\\n.*?)*$", comment, re.M)
    command = re.sub(r"\s+", " ", command.replace("\\\n", " "))
    assert command in readme_commands(), command


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A clean checkout: the files git tracks or would track, nothing built or installed."""
    root = tmp_path_factory.mktemp("checkout")
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """`crane registry serve` on loopback, as XPKG_REGISTRY."""
    work = tmp_path_factory.mktemp("registry")
    # crane's disk store writes uploads into the directory without creating it.
    (work / "disk").mkdir()
    log = work / "registry.log"
    server, (port,) = start_listening(
        lambda ports: Process([tool("crane"), "registry", "serve", "--address", f"127.0.0.1:{ports[0]}",
                               "--disk", work / "disk"], log),
        1, log)
    try:
        yield f"127.0.0.1:{port}/bizmatters"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ran(checkout, tools_on_path, registry):
    """Runs every command once, in order, against the server on 127.0.0.1:9443."""
    if not STATIC_BINARY.is_file():
        pytest.fail(f"{STATIC_BINARY} not found: build it as package/image.sh does (or set STATIC_BINARY)")
    env = dict(tools_on_path, XPKG_REGISTRY=registry, STATIC_BINARY=str(STATIC_BINARY), CRANE=str(tool("crane")))
    # `cargo run --release --` is the release binary, already built for this run.
    binary = function_binary()
    outputs = {}
    with serve() as server:
        target = f"--function-annotations=render.crossplane.io/runtime-development-target={server.address}"
        for command in COMMANDS:
            shell = command.replace("cargo run --release --", str(binary), 1)
            if command.startswith("crossplane composition render"):
                shell = f"{shell} {target}"
            result = run(["bash", "-c", shell], cwd=checkout, env=env)
            outputs[command] = result.stdout
    return outputs


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command, ran):
    assert command in ran


def package_layers(xpkg) -> list:
    """Every YAML document inside an xpkg (an OCI image tarball), by the layer file it is in."""
    documents = []
    with tarfile.open(xpkg) as image:
        manifest = json.load(image.extractfile("manifest.json"))
        for layer in manifest[0]["Layers"]:
            with tarfile.open(fileobj=io.BytesIO(image.extractfile(layer).read())) as contents:
                for member in contents.getmembers():
                    if member.isfile() and member.name.endswith(".yaml"):
                        text = contents.extractfile(member).read().decode()
                        documents += [(member.name, d) for d in yaml.safe_load_all(text) if d]
    return documents


def kinds(documents, name) -> list:
    return sorted(f"{d['kind']}/{d['metadata']['name']}" for file, d in documents if file == name)


EXPECTED = {
    "function-event-driven-service.xpkg": [
        "CustomResourceDefinition/inputs.eventdrivenservice.fn.bizmatters.io",
        "Function/function-event-driven-service",
    ],
    "configuration-event-driven-service.xpkg": [
        "CompositeResourceDefinition/xeventdrivenservices.platform.bizmatters.io",
        "Composition/event-driven-service",
        "Configuration/configuration-event-driven-service",
    ],
    "configuration-event-driven-service-v2.xpkg": [
        "CompositeResourceDefinition/eventdrivenservices.platform.bizmatters.io",
        "Composition/event-driven-service-direct",
        "Composition/event-driven-service-objects",
        "Configuration/configuration-event-driven-service-v2",
    ],
}


def described(document) -> tuple:
    return document.get("kind", ""), document.get("metadata", {}).get("name", "")


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_each_package_holds_its_api_and_the_examples(package, checkout, ran):
    documents = package_layers(checkout / package)
    assert kinds(documents, "package.yaml") == EXPECTED[package]
    # The examples layer: every document of every YAML file under examples/.
    examples = sorted(described(d) for f, d in documents if f == ".up/examples.yaml")
    want = sorted(
        described(d)
        for p in (REPO / "examples").rglob("*.yaml")
        for d in yaml.safe_load_all(p.read_text()) if d
    )
    assert examples == want, "every example rides along in the package"


def exported(image: str) -> dict:
    """The files of an image in the registry, by path, as `crane export` flattens them."""
    flat = subprocess.run([str(tool("crane")), "export", image, "-"], check=True, capture_output=True, timeout=120)
    with tarfile.open(fileobj=io.BytesIO(flat.stdout)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_the_function_package_in_the_registry_carries_its_runtime(registry, ran):
    files = exported(f"{registry}/function-event-driven-service:v0.1.0")
    assert "function-event-driven-service" in files, "the runtime image's binary"
    assert files["function-event-driven-service"].startswith(b"\x7fELF")
    metadata = [d for d in yaml.safe_load_all(files["package.yaml"]) if d and d["kind"] == "Function"]
    assert [d["metadata"]["name"] for d in metadata] == ["function-event-driven-service"]


@pytest.mark.parametrize("package", PACKAGES[1:])
def test_the_configurations_in_the_registry_depend_on_the_function_there(package, registry, ran):
    files = exported(f"{registry}/{package}:v0.1.0")
    (configuration,) = [d for d in yaml.safe_load_all(files["package.yaml"]) if d and d["kind"] == "Configuration"]
    assert configuration["spec"]["dependsOn"] == [{
        "apiVersion": "pkg.crossplane.io/v1",
        "kind": "Function",
        "package": f"{registry}/function-event-driven-service",
        "version": ">=v0.1.0",
    }]
