"""The ScaledObject the function renders, evaluated by KEDA's own nats-jetstream scaler
(kedacore/keda pkg/scalers, unchanged, in tools/keda-nats-probe) against a real nats-server
with JetStream on loopback.

Each case renders a claim with the release binary, then the probe creates the trigger's stream
and durable consumer, publishes messages, and asks the scaler for lag and activity; only the
trigger's monitoring endpoint is pointed at the test server.
"""

import json
import pathlib
import urllib.request

import pytest
import yaml

from function_server import REPO, function_binary
from tooling import Process, free_port, run, tool, wait_for_port

MESSAGES = 10
ACKED = 4
# A server with configured accounts: JetStream enabled in ORDERS, whose ID is its name.
ACCOUNTS_CONFIG = """
listen: 127.0.0.1:{client}
http: 127.0.0.1:{monitoring}
jetstream {{ store_dir: "{store}" }}
accounts {{
  ORDERS {{ jetstream: enabled, users: [{{user: orders, password: orders-secret}}] }}
}}
"""


class NatsServer:
    """nats-server with JetStream, its store in a temp dir, stopped by its PID."""

    def __init__(self, tmp_path, accounts: bool):
        self.client, self.monitoring = free_port(), free_port()
        store = tmp_path / "jetstream"
        args = [tool("nats-server")]
        if accounts:
            config = tmp_path / "nats.conf"
            config.write_text(ACCOUNTS_CONFIG.format(client=self.client, monitoring=self.monitoring, store=store))
            args += ["-c", config]
        else:
            args += ["-js", "-sd", store, "-a", "127.0.0.1", "-p", self.client, "-m", self.monitoring]
        self.process = Process(args, tmp_path / "nats-server.log")
        wait_for_port(self.monitoring, self.process.process, self.process.log)
        wait_for_port(self.client, self.process.process, self.process.log)

    def jsz(self, account: str) -> dict:
        url = f"http://127.0.0.1:{self.monitoring}/jsz?acc={account}&consumers=true&config=true"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)


@pytest.fixture
def plain_server(tmp_path):
    server = NatsServer(tmp_path, accounts=False)
    yield server
    server.process.stop()


@pytest.fixture
def accounts_server(tmp_path):
    server = NatsServer(tmp_path, accounts=True)
    yield server
    server.process.stop()


def render(tmp_path, stream: str, **nats) -> pathlib.Path:
    """Renders the minimal example claim with its stream and NATS fields replaced."""
    claim = yaml.safe_load((REPO / "examples/minimal-claim.yaml").read_text())
    claim["spec"]["nats"].update(stream=stream, consumer=f"{stream.lower()}-workers", **nats)
    claim_file = tmp_path / "claim.yaml"
    claim_file.write_text(yaml.safe_dump(claim))
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(run([function_binary(), "render", claim_file]).stdout)
    return rendered


def probe(server: NatsServer, rendered, expect: str, user: str = "", ack: int = 0) -> str:
    args = [
        tool("keda-nats-probe"), "-render", rendered,
        "-nats", f"nats://127.0.0.1:{server.client}",
        "-monitoring", f"127.0.0.1:{server.monitoring}",
        "-publish", MESSAGES, "-ack", ack, "-expect", expect,
    ]
    if user:
        args += ["-user", user, "-password", "orders-secret"]
    result = run(args, check=False)
    assert result.returncode == 0, (
        f"{result.stdout}\n{result.stderr}\n--- nats-server log\n{server.process.log.read_text()}"
    )
    return result.stdout


def trigger_metadata(rendered) -> dict:
    for doc in yaml.safe_load_all(rendered.read_text()):
        manifest = (doc or {}).get("spec", {}).get("forProvider", {}).get("manifest", {})
        if manifest.get("kind") == "ScaledObject":
            return manifest["spec"]["triggers"][0]["metadata"]
    raise AssertionError("no ScaledObject rendered")


def test_the_default_account_finds_the_consumer_and_lag_falls_with_acks(plain_server, tmp_path):
    rendered = render(tmp_path, "SIMPLE_JOBS")
    assert trigger_metadata(rendered)["account"] == "$G"
    out = probe(plain_server, rendered, "found", ack=ACKED)
    assert f"lag {MESSAGES} active true" in out, out
    assert f"lag {MESSAGES - ACKED} active true" in out, out


def test_the_system_account_finds_nothing(plain_server, tmp_path):
    """The old default: JetStream cannot run in $SYS. Asked for $SYS, nats-server answers with
    no account at all (v2.11; older releases answered for $G), so nothing ever matches."""
    rendered = render(tmp_path, "SYS_JOBS", account="$SYS")
    out = probe(plain_server, rendered, "missing")
    assert "found nothing" in out, out
    answered = [a["name"] for a in plain_server.jsz("$SYS").get("account_details", [])]
    assert "$SYS" not in answered, answered
    assert [a["name"] for a in plain_server.jsz("$G")["account_details"]] == ["$G"]


def test_a_named_account_finds_its_consumer(accounts_server, tmp_path):
    rendered = render(tmp_path, "ORDERS_BY_NAME", account="ORDERS")
    out = probe(accounts_server, rendered, "found", user="orders", ack=ACKED)
    assert f"lag {MESSAGES - ACKED} active true" in out, out


def test_an_account_id_finds_its_consumer(accounts_server, tmp_path):
    rendered = render(tmp_path, "ORDERS_BY_ID", accountID="ORDERS")
    assert trigger_metadata(rendered)["accountID"] == "ORDERS"
    out = probe(accounts_server, rendered, "found", user="orders")
    assert f"lag {MESSAGES} active true" in out, out


def test_the_default_account_misses_a_stream_of_a_named_account(accounts_server, tmp_path):
    rendered = render(tmp_path, "ORDERS_UNNAMED")
    out = probe(accounts_server, rendered, "missing", user="orders")
    assert "found nothing" in out, out
