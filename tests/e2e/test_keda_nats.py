"""The ScaledObject the function renders, evaluated by KEDA's own nats-jetstream scaler
(kedacore/keda pkg/scalers, unchanged, in tools/keda-nats-probe) against a real nats-server
with JetStream on loopback.

Each case renders a claim with the release binary, then the probe creates the trigger's stream
and durable consumer, publishes messages, and asks the scaler for lag and activity; only the
trigger's monitoring endpoint is pointed at the test server.

The durable-consumer cases render examples/scaling-claim.yaml and create the consumer from the
rendered NACK Consumer the way NACK's control loop would, so the server itself shows which of
the claim's settings hold, which it refuses, and what KEDA reads before the consumer exists.
"""

import decimal
import json
import pathlib
import re
import urllib.request

import pytest
import yaml

from example_files import flags_of
from function_server import REPO, function_binary
from tooling import Process, run, start_listening, tool

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
        store = tmp_path / "jetstream"
        log = tmp_path / "nats-server.log"

        def start(ports):
            client, monitoring = ports
            args = [tool("nats-server")]
            if accounts:
                config = tmp_path / "nats.conf"
                config.write_text(ACCOUNTS_CONFIG.format(client=client, monitoring=monitoring, store=store))
                args += ["-c", config]
            else:
                args += ["-js", "-sd", store, "-a", "127.0.0.1", "-p", client, "-m", monitoring]
            return Process(args, log)

        self.process, (self.client, self.monitoring) = start_listening(start, 2, log)

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


SCALING_CLAIM = REPO / "examples/scaling-claim.yaml"
# The stream takes every payments subject; the rendered consumer filters some of them.
PAYMENTS_SUBJECTS = "payments.>"
PUBLISHED = {"payments.captured.card": 4, "payments.captured.sepa": 3, "payments.refunded": 3}
IN_FLIGHT = 3
# NACK's camelCase deliver policies as nats-server spells them.
DELIVER_POLICIES = {"all": "all", "last": "last", "new": "new", "lastPerSubject": "last_per_subject"}
GO_DURATION_UNITS = {
    "ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
}
GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration_ns(text: str) -> int:
    """A Go time.ParseDuration string ("2m", "1m30s", "1.5h") in nanoseconds, as NACK reads
    ackWait and backoff and as nats-server reports durations."""
    if text == "0":
        return 0
    parts = GO_DURATION_PART.findall(text)
    assert parts and "".join(n + u for n, u in parts) == text, f"{text!r} is not a Go duration"
    return int(sum(decimal.Decimal(n) * GO_DURATION_UNITS[u] for n, u in parts))


def subject_matches(filter_subject: str, subject: str) -> bool:
    """NATS subject matching: `*` takes one token, a final `>` one or more."""
    pattern, tokens = filter_subject.split("."), subject.split(".")
    for i, p in enumerate(pattern):
        if p == ">":
            return len(tokens) > i
        if i >= len(tokens) or (p != "*" and p != tokens[i]):
            return False
    return len(tokens) == len(pattern)


def render_example(tmp_path, example: pathlib.Path) -> pathlib.Path:
    """Renders an example with its own `# render-flags:`, as its golden snapshot is rendered."""
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(run([function_binary(), "render", example, *flags_of(example)]).stdout)
    return rendered


def composed(rendered, key: str) -> dict:
    """The composed manifest with composition resource name `key`, unwrapped from its Object."""
    for doc in yaml.safe_load_all(rendered.read_text()):
        annotations = ((doc or {}).get("metadata") or {}).get("annotations") or {}
        if annotations.get("crossplane.io/composition-resource-name") == key:
            return doc.get("spec", {}).get("forProvider", {}).get("manifest", doc)
    raise AssertionError(f"no composed resource {key} rendered")


def scaling_claim(tmp_path):
    """The scaling example rendered: the file, its Consumer spec and its trigger's metadata."""
    rendered = render_example(tmp_path, SCALING_CLAIM)
    consumer = composed(rendered, "consumer")
    assert (consumer["apiVersion"], consumer["kind"]) == ("jetstream.nats.io/v1beta2", "Consumer")
    (trigger,) = composed(rendered, "scaledobject")["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    return rendered, consumer["spec"], trigger["metadata"]


def nack_probe(server: NatsServer, rendered, *args) -> dict:
    """Runs the probe on the payments stream and returns its JSON lines by their first word:
    `sent` (the consumer configuration, as NACK would send it), `report` (the scaler's
    answer), `refused` (the server's error)."""
    result = run([
        tool("keda-nats-probe"), "-render", rendered,
        "-nats", f"nats://127.0.0.1:{server.client}",
        "-monitoring", f"127.0.0.1:{server.monitoring}",
        "-subjects", PAYMENTS_SUBJECTS, "-publish", 0, *args,
    ], check=False)
    assert result.returncode == 0, (
        f"{result.stdout}\n{result.stderr}\n--- nats-server log\n{server.process.log.read_text()}"
    )
    found = {}
    for line in result.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("sent", "report", "refused"):
            found[word] = json.loads(rest)
    return found


def publish_args() -> list:
    return [a for subject, count in PUBLISHED.items() for a in ("-publish-on", f"{subject}={count}")]


def stream_detail(server: NatsServer, stream: str) -> dict:
    (account,) = server.jsz("$G")["account_details"]
    (detail,) = [s for s in account["stream_detail"] if s["name"] == stream]
    return detail


def stored_consumer(server: NatsServer, stream: str, durable: str) -> dict:
    (consumer,) = [c for c in stream_detail(server, stream).get("consumer_detail", []) if c["name"] == durable]
    return consumer


def test_the_server_holds_the_rendered_consumer_with_ack_wait_from_backoff(plain_server, tmp_path):
    """The rendered NACK Consumer, created as NACK creates it, is what nats-server keeps: explicit
    acks, maxDeliver, maxAckPending, the filter and the backoff, except that the server replaces
    ackWait with backoff[0]. The claim's ackWait therefore only counts without a backoff, which
    is why the function reasons about backoff[0] as the wait before the first redelivery."""
    rendered, spec, trigger = scaling_claim(tmp_path)
    assert (spec["streamName"], spec["durableName"]) == (trigger["stream"], trigger["consumer"])
    backoff = [go_duration_ns(b) for b in spec["backoff"]]
    assert backoff and backoff[0] != go_duration_ns(spec["ackWait"]), "the example must tell the two waits apart"

    sent = nack_probe(plain_server, rendered, "-consumer-config", json.dumps(spec), "-expect", "report")["sent"]
    assert sent["ack_wait"] == go_duration_ns(spec["ackWait"]), sent

    stored = stored_consumer(plain_server, spec["streamName"], spec["durableName"])["config"]
    filters = spec["filterSubjects"]
    want = {
        "durable_name": spec["durableName"],
        "deliver_policy": DELIVER_POLICIES[spec["deliverPolicy"]],
        "ack_policy": spec["ackPolicy"],
        "ack_wait": backoff[0],
        "max_deliver": spec["maxDeliver"],
        "max_ack_pending": spec["maxAckPending"],
        "backoff": backoff,
        # jsm.go, which NACK calls, sends a single filter as filter_subject.
        **({"filter_subject": filters[0]} if len(filters) == 1 else {"filter_subjects": filters}),
    }
    assert {k: stored.get(k) for k in want} == want, stored
    assert len(filters) != 1 or "filter_subjects" not in stored, stored


def test_the_lag_counts_only_the_filtered_subjects_in_flight_included(plain_server, tmp_path):
    """Messages on stream subjects outside the consumer's filter are no lag: KEDA reads
    num_pending + num_ack_pending of the durable consumer, so fetched but unacknowledged
    messages still count, and the target is the claim's lagThreshold per replica."""
    rendered, spec, trigger = scaling_claim(tmp_path)
    assert trigger["lagThreshold"] == "20"
    matching = sum(n for s, n in PUBLISHED.items() if any(subject_matches(f, s) for f in spec["filterSubjects"]))
    assert 0 < IN_FLIGHT < matching < sum(PUBLISHED.values()), "the example's filter must split the subjects"

    out = nack_probe(
        plain_server, rendered, "-consumer-config", json.dumps(spec), *publish_args(),
        "-fetch", IN_FLIGHT, "-expect", "report",
    )
    report = out["report"]
    consumer = stored_consumer(plain_server, spec["streamName"], spec["durableName"])
    assert (consumer["num_pending"], consumer["num_ack_pending"]) == (matching - IN_FLIGHT, IN_FLIGHT), consumer
    assert report == {
        "metric": f"s0-nats-jetstream-{trigger['stream']}",
        "targetType": "AverageValue",
        "targetAverageValue": trigger["lagThreshold"],
        "lag": matching,
        "active": True,
    }, out


@pytest.mark.parametrize("steps_over_max_deliver, refused", [(1, True), (0, False)])
def test_the_server_refuses_a_backoff_longer_than_max_deliver(
    plain_server, tmp_path, steps_over_max_deliver, refused
):
    """The rule the function's validation mirrors, from the server itself: a backoff with more
    steps than maxDeliver is refused with error 10116 (NACK does not check it, so its Consumer
    would only turn Errored), while as many steps as maxDeliver is accepted, whatever the
    error's wording suggests."""
    rendered, spec, _ = scaling_claim(tmp_path)
    spec = dict(spec, maxDeliver=len(spec["backoff"]) - steps_over_max_deliver)
    expect = "refused" if refused else "report"
    out = nack_probe(plain_server, rendered, "-consumer-config", json.dumps(spec), "-expect", expect)
    if refused:
        assert out["refused"] == {
            "code": 400,
            "err_code": 10116,
            "description": "max deliver is required to be > length of backoff values",
        }, out
        assert "consumer_detail" not in stream_detail(plain_server, spec["streamName"])
    else:
        stored = stored_consumer(plain_server, spec["streamName"], spec["durableName"])["config"]
        assert stored["max_deliver"] == len(spec["backoff"]), stored


def test_without_the_consumer_keda_reads_the_streams_last_sequence_as_lag(plain_server, tmp_path):
    """KEDA v2.18 with the stream present but the durable consumer not created yet: no error, the
    stream's last sequence (every message, filtered or not) as lag, and active. With
    minReplicas 0 KEDA would scale a worker out for messages it may never take, which is why
    the function warns when a claim scales to zero without declaring its durable consumer."""
    rendered, _, trigger = scaling_claim(tmp_path)
    report = nack_probe(plain_server, rendered, "-no-consumer", *publish_args(), "-expect", "report")["report"]
    stream = stream_detail(plain_server, trigger["stream"])
    assert (stream["state"]["consumer_count"], stream.get("consumer_detail")) == (0, None), stream
    assert stream["state"]["last_seq"] == sum(PUBLISHED.values())
    assert (report["lag"], report["active"], report.get("error")) == (stream["state"]["last_seq"], True, None), report
