"""The runtime image package/image.sh builds, run as Crossplane runs it: its filesystem exported
with crane, its entrypoint started from there with no arguments and the TLS material in
TLS_SERVER_CERTS_DIR (tls.crt, tls.key, ca.crt, as Crossplane's function runtime mounts it),
answering RunFunction over mutual TLS exactly as the release binary answers it, and draining
on SIGTERM. Nothing from the build tree is started.

The image comes from RUNTIME_IMAGE (a tarball; CI builds it before this suite). The entrypoint
binds Crossplane's port, 9443, so the control plane must not be running beside this suite (CI
runs it in a later stage).
"""

import json
import os
import pathlib
import signal
import stat
import subprocess
import tarfile

import grpc
import pytest
import yaml
from google.protobuf import json_format

import crossplane.function.proto.v1.run_function_pb2 as pb2
import crossplane.function.proto.v1.run_function_pb2_grpc as pb2_grpc
from function_server import REPO, serve
from tooling import Process, run, tool, wait_for_port

ENTRYPOINT = "/function-event-driven-service"
CROSSPLANE_PORT = 9443
CALL_TIMEOUT_SECONDS = 30


def runtime_image() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("RUNTIME_IMAGE", REPO / "target" / "image" / "runtime.tar"))
    if not path.is_file():
        pytest.fail(f"{path} not found: build it with `package/image.sh {path}` (or set RUNTIME_IMAGE)")
    return path


def image_config(image: pathlib.Path) -> dict:
    """The image's config, read from the tarball's manifest."""
    with tarfile.open(image) as tar:
        (manifest,) = json.load(tar.extractfile("manifest.json"))
        return json.load(tar.extractfile(manifest["Config"]))


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    """The image's filesystem, as `crane export` flattens it."""
    work = tmp_path_factory.mktemp("image")
    with runtime_image().open("rb") as image:
        subprocess.run([str(tool("crane")), "export", "-", str(work / "fs.tar")],
                       stdin=image, check=True, capture_output=True, timeout=120)
    root = work / "root"
    with tarfile.open(work / "fs.tar") as fs:
        fs.extractall(root, filter="tar")
    return root


def openssl(*args, cwd):
    run(["openssl", *args], cwd=cwd)


def issue(pki: pathlib.Path, name: str, usage: str):
    openssl("genrsa", "-traditional", "-out", f"{name}.key", "2048", cwd=pki)
    openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr", cwd=pki)
    (pki / f"{name}.ext").write_text(
        f"subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
    )
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=pki)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, the server's certificate in a directory laid out as Crossplane mounts it, and a
    client certificate as Crossplane presents it."""
    pki = tmp_path_factory.mktemp("pki")
    openssl("genrsa", "-traditional", "-out", "ca.key", "2048", cwd=pki)
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=image-test-ca", "-days", "1",
            "-out", "ca.crt", cwd=pki)
    issue(pki, "server", "serverAuth")
    issue(pki, "client", "clientAuth")
    server = pki / "tls" / "server"
    server.mkdir(parents=True)
    for name, source in [("tls.crt", "server.crt"), ("tls.key", "server.key"), ("ca.crt", "ca.crt")]:
        (server / name).write_bytes((pki / source).read_bytes())
    return pki



def request() -> pb2.RunFunctionRequest:
    xr = yaml.safe_load((REPO / "examples" / "xr.yaml").read_text())
    return json_format.ParseDict({"meta": {"tag": "image"}, "observed": {"composite": {"resource": xr}}},
                                 pb2.RunFunctionRequest())


def test_the_image_is_configured_as_crossplane_runs_it():
    config = image_config(runtime_image())
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Entrypoint"] == [ENTRYPOINT], "Crossplane passes no arguments"
    assert not config["config"].get("Cmd"), "a Cmd would add arguments Crossplane does not pass"
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["ExposedPorts"] == {"9443/tcp": {}}
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.source"] == "https://github.com/bizmatters/function-event-driven-service"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.version"]
    assert len(config["rootfs"]["diff_ids"]) == 1, "one layer: the binary"


def test_the_filesystem_holds_only_the_static_entrypoint(rootfs):
    files = sorted(str(p.relative_to(rootfs)) for p in rootfs.rglob("*"))
    assert files == [ENTRYPOINT.lstrip("/")]
    mode = (rootfs / ENTRYPOINT.lstrip("/")).stat().st_mode
    assert mode & stat.S_IXOTH, "uid 65532 must be able to run it"
    headers = run(["readelf", "--program-headers", rootfs / ENTRYPOINT.lstrip("/")]).stdout
    assert "INTERP" not in headers, "no loader in the image: the binary must be static"


def test_the_entrypoint_serves_mutual_tls_and_drains(rootfs, pki, tmp_path):
    # The release binary's answer over plaintext is the reference.
    with serve() as reference:
        with grpc.insecure_channel(reference.address) as channel:
            want = pb2_grpc.FunctionRunnerServiceStub(channel).RunFunction(
                request(), timeout=CALL_TIMEOUT_SECONDS)

    # As Crossplane starts it: the entrypoint alone, the certificates where the variable says,
    # nothing else in its environment.
    log = tmp_path / "entrypoint.log"
    entrypoint = rootfs / ENTRYPOINT.lstrip("/")
    env = {"TLS_SERVER_CERTS_DIR": str(pki / "tls" / "server")}
    process = Process([entrypoint], log, cwd=rootfs, env=env)
    try:
        wait_for_port(CROSSPLANE_PORT, process.process, log)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(pki / "ca.crt").read_bytes(),
            private_key=(pki / "client.key").read_bytes(),
            certificate_chain=(pki / "client.crt").read_bytes(),
        )
        with grpc.secure_channel(f"127.0.0.1:{CROSSPLANE_PORT}", credentials) as channel:
            got = pb2_grpc.FunctionRunnerServiceStub(channel).RunFunction(request(), timeout=CALL_TIMEOUT_SECONDS)
        assert json_format.MessageToDict(got) == json_format.MessageToDict(want), log.read_text()
        assert len(got.desired.resources) == 4

        # Without a client certificate the handshake fails: the server requires one.
        anonymous = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.crt").read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{CROSSPLANE_PORT}", anonymous) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                pb2_grpc.FunctionRunnerServiceStub(channel).RunFunction(request(), timeout=CALL_TIMEOUT_SECONDS)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

        process.process.send_signal(signal.SIGTERM)
        code = process.process.wait(timeout=CALL_TIMEOUT_SECONDS)
        events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        messages = [e.get("message") for e in events]
        assert code == 0, log.read_text()
        assert "shutting down: no new connections, finishing calls in flight" in messages, log.read_text()
        assert messages[-1] == "stopped", log.read_text()
    finally:
        process.stop()
