"""`doctor` against a real 3-node nats-server cluster with JetStream, beside KEDA's own
nats-jetstream scaler (tools/keda-nats-probe) on the same servers: in every case doctor's lag is
the lag KEDA reads, and its verdict and exit code say whether that lag is the right one.

Each node listens on its own loopback address (127.0.0.1, .2, .3) with the same client, route
and monitoring ports, as pods of a StatefulSet do on their own IPs: KEDA looks the consumer
leader up by the hosts of the cluster's client URLs on the endpoint's monitoring port, and
doctor finds the nodes through the server's routes, so both reach every node as they would in
Kubernetes. The stream has three replicas and lives in the named account ORDERS, beside the
global account `$G` that clients without a user land in.
"""

import http.server
import json
import socket
import threading
import time
import urllib.request

import pytest
import yaml

from function_server import REPO, function_binary
from tooling import Process, free_ports, run, start_listening, tool

NODES = 3
PASSWORD = "orders-secret"
NODE_CONFIG = """
server_name: n{i}
listen: 127.0.0.{i}:{client}
http: 127.0.0.{i}:{monitoring}
jetstream {{ store_dir: "{store}" }}
cluster {{
  name: doctor
  listen: 127.0.0.{i}:{route}
  routes: [{routes}]
}}
accounts {{
  ORDERS {{ jetstream: enabled, users: [{{user: orders, password: {password}}}] }}
}}
"""
PUBLISHED = 10
IN_FLIGHT = 3


class Cluster:
    """Three nats-server nodes, each stopped by its PID; the ports are picked free and the
    cluster started again on new ones when a port was taken before a node bound it."""

    def __init__(self, tmp_path, attempts: int = 5):
        for attempt in range(attempts):
            self.client, self.route, self.monitoring = free_ports(3)
            self.nodes = {}
            for i in range(1, NODES + 1):
                config = tmp_path / f"n{i}.conf"
                routes = ", ".join(f"nats-route://127.0.0.{j}:{self.route}" for j in range(1, NODES + 1))
                config.write_text(NODE_CONFIG.format(
                    i=i, client=self.client, monitoring=self.monitoring, route=self.route,
                    routes=routes, store=tmp_path / f"store-n{i}", password=PASSWORD,
                ))
                self.nodes[f"n{i}"] = Process([tool("nats-server"), "-c", config], tmp_path / f"n{i}.log")
            if self._wait_ready():
                return
            logs = self.logs()
            self.stop()
            if "address already in use" not in logs or attempt + 1 == attempts:
                pytest.fail(f"the cluster did not form within 60s:\n{logs}")

    def endpoint(self, name: str) -> str:
        return f"127.0.0.{name[1:]}:{self.monitoring}"

    def get(self, name: str, path: str) -> dict:
        with urllib.request.urlopen(f"http://{self.endpoint(name)}{path}", timeout=5) as response:
            return json.load(response)

    def _wait_ready(self) -> bool:
        """Every node healthy, and every node knowing the meta leader of a full cluster, within a
        bound."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(node.process.poll() is not None for node in self.nodes.values()):
                return False
            try:
                healthy = all(self.get(n, "/healthz").get("status") == "ok" for n in self.nodes)
                metas = [self.get(n, "/jsz").get("meta_cluster", {}) for n in self.nodes]
                if healthy and all(m.get("leader") and m.get("cluster_size") == NODES for m in metas):
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def logs(self) -> str:
        return "\n".join(f"--- {n} log\n{p.log.read_text()}" for n, p in self.nodes.items())

    def stop(self):
        for node in self.nodes.values():
            node.stop()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.stop()


def claim(tmp_path, stream: str, **nats) -> tuple:
    """The minimal example claim on `stream`, and its render (for the probe)."""
    document = yaml.safe_load((REPO / "examples/minimal-claim.yaml").read_text())
    document["spec"]["nats"].update(stream=stream, consumer=f"{stream.lower()}-workers", **nats)
    path = tmp_path / f"{stream}-{nats.get('account', 'default')}-claim.yaml"
    path.write_text(yaml.safe_dump(document))
    rendered = path.with_suffix(".rendered.yaml")
    rendered.write_text(run([function_binary(), "render", path]).stdout)
    return path, rendered


def probe(cluster: Cluster, rendered, node: str, *args) -> dict:
    """KEDA's scaler, asked at `node`'s monitoring port; returns its report."""
    result = run([
        tool("keda-nats-probe"), "-render", rendered,
        "-nats", f"nats://127.0.0.1:{cluster.client}", "-user", "orders", "-password", PASSWORD,
        "-monitoring", cluster.endpoint(node), "-replicas", NODES, "-expect", "report", *args,
    ], check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{cluster.logs()}"
    (line,) = [l for l in result.stdout.splitlines() if l.startswith("report ")]
    return json.loads(line.removeprefix("report "))


def set_up(cluster, rendered, *args) -> dict:
    """Creates the R3 stream and its consumer, publishes, leaves some messages in flight."""
    return probe(cluster, rendered, "n1", "-publish", PUBLISHED, *args)


def measure(cluster, rendered, node: str) -> dict:
    return probe(cluster, rendered, node, "-measure-only", "-publish", 0)


def doctor(cluster, claim_file, *endpoints: str) -> tuple:
    """doctor's JSON report and exit code."""
    args = [function_binary(), "doctor", claim_file, "--output", "json"]
    for endpoint in endpoints:
        args += ["--monitoring", endpoint]
    result = run(args, check=False)
    assert result.returncode in (0, 1), f"{result.stdout}\n{result.stderr}\n{cluster.logs()}"
    return json.loads(result.stdout), result.returncode


def assert_same_lag(report: dict, keda: dict):
    """doctor's reading is KEDA's: the same lag and activity, or the same failure."""
    print(f"doctor: lag {report['keda']['lag']} active {report['keda']['active']} error {report['keda']['error']!r}"
          f" problems {codes(report['problems'])} advice {codes(report['advice'])}"
          f" | KEDA: lag {keda['lag']} active {keda['active']} error {keda.get('error')!r}")
    if keda.get("error"):
        assert (report["keda"]["lag"], report["keda"]["error"]) == (None, keda["error"]), (report, keda)
    else:
        assert (report["keda"]["lag"], report["keda"]["active"]) == (keda["lag"], keda["active"]), (report, keda)


def codes(findings) -> list:
    return [f["code"] for f in findings]


def test_healthy_cluster_reads_the_leaders_lag(cluster, tmp_path):
    claim_file, rendered = claim(tmp_path, "HEALTHY", account="ORDERS")
    set_up(cluster, rendered, "-fetch", IN_FLIGHT)
    keda = measure(cluster, rendered, "n1")
    report, code = doctor(cluster, claim_file, cluster.endpoint("n1"))
    assert_same_lag(report, keda)
    assert keda["lag"] == PUBLISHED and keda["active"], keda
    assert (code, report["ok"], report["problems"]) == (0, True, []), report
    assert (report["accountFound"], report["streamFound"], report["consumerFound"]) == (True, True, True)
    assert report["delivery"] == "pull" and report["filterSubjects"] == [], report
    assert report["keda"]["readFrom"] == report["consumerLeader"], report
    assert sorted(n["name"] for n in report["nodes"]) == ["n1", "n2", "n3"], report["nodes"]
    leader = [n for n in report["nodes"] if n["name"] == report["consumerLeader"]]
    assert leader and leader[0]["lag"] == PUBLISHED and not leader[0]["stale"], report["nodes"]
    # The rendered lagThreshold (5) against the server's maxAckPending (1000).
    assert "LagBelowAckPending" in codes(report["advice"]), report["advice"]
    assert report["desiredReplicas"] == 2, report


def test_wrong_account_names_the_account_that_holds_the_stream(cluster, tmp_path):
    _, rendered = claim(tmp_path, "WRONG_ACCOUNT", account="ORDERS")
    set_up(cluster, rendered)
    global_claim, global_rendered = claim(tmp_path, "WRONG_ACCOUNT")
    keda = measure(cluster, global_rendered, "n1")
    report, code = doctor(cluster, global_claim, cluster.endpoint("n1"))
    assert_same_lag(report, keda)
    assert (code, report["accountFound"], report["accounts"]) == (1, False, ["ORDERS"]), report
    (problem,) = report["problems"]
    assert problem["code"] == "AccountNotFound", problem
    assert "set spec.nats.account: ORDERS" in problem["fix"], problem


def test_missing_consumer_is_a_problem_keda_cannot_read_in_a_cluster(cluster, tmp_path):
    claim_file, rendered = claim(tmp_path, "NO_CONSUMER", account="ORDERS")
    set_up(cluster, rendered, "-no-consumer")
    keda = measure(cluster, rendered, "n2")
    report, code = doctor(cluster, claim_file, cluster.endpoint("n2"))
    assert_same_lag(report, keda)
    # Clustered, KEDA 2.18 looks for the consumer's leader and fails, rather than reading the
    # stream's last sequence as a single server makes it do.
    assert keda["error"] == "leader node not found for consumer no_consumer-workers", keda
    assert (code, report["streamFound"], report["consumerFound"]) == (1, True, False), report
    assert codes(report["problems"])[0] == "ConsumerNotFound", report["problems"]


def test_push_consumer_reads_right_but_is_a_problem(cluster, tmp_path):
    claim_file, rendered = claim(tmp_path, "PUSHED", account="ORDERS")
    set_up(cluster, rendered, "-push")
    keda = measure(cluster, rendered, "n3")
    report, code = doctor(cluster, claim_file, cluster.endpoint("n3"))
    assert_same_lag(report, keda)
    assert keda["lag"] == PUBLISHED, keda
    assert (code, report["delivery"]) == (1, "push"), report
    assert codes(report["problems"]) == ["PushConsumer"], report["problems"]


def test_a_follower_queried_alone_leads_to_the_leader(cluster, tmp_path):
    claim_file, rendered = claim(tmp_path, "FOLLOWED", account="ORDERS")
    set_up(cluster, rendered, "-fetch", IN_FLIGHT)
    first, _ = doctor(cluster, claim_file, cluster.endpoint("n1"))
    follower = next(n for n in ("n1", "n2", "n3") if n != first["consumerLeader"])
    keda = measure(cluster, rendered, follower)
    report, code = doctor(cluster, claim_file, cluster.endpoint(follower))
    assert_same_lag(report, keda)
    assert (code, report["keda"]["lag"], report["keda"]["readFrom"]) == (0, PUBLISHED, first["consumerLeader"]), report
    asked = {n["name"]: n for n in report["nodes"]}
    assert set(asked) == {"n1", "n2", "n3"}, report["nodes"]
    # A follower's own figures: what a tool asking one node of a load-balanced service reads.
    stale = asked[follower]
    assert stale["stale"] and stale["lag"] != PUBLISHED, stale
    assert "StaleFollower" in codes(report["advice"]), report["advice"]
    # Several --monitoring endpoints are the nodes, as one port-forward per pod gives them.
    alone, _ = doctor(cluster, claim_file, cluster.endpoint(follower), cluster.endpoint(first["consumerLeader"]))
    assert sorted(n["name"] for n in alone["nodes"]) == sorted([follower, first["consumerLeader"]]), alone


def test_a_new_leader_after_the_old_one_stops(cluster, tmp_path):
    claim_file, rendered = claim(tmp_path, "FAILOVER", account="ORDERS")
    set_up(cluster, rendered, "-fetch", IN_FLIGHT)
    before, _ = doctor(cluster, claim_file, cluster.endpoint("n1"))
    old = before["consumerLeader"]
    cluster.nodes[old].stop()
    survivor = next(n for n in ("n1", "n2", "n3") if n != old)
    deadline = time.monotonic() + 60
    while True:
        report, code = doctor(cluster, claim_file, cluster.endpoint(survivor))
        if report["consumerLeader"] not in (None, old) and report["keda"]["error"] is None:
            break
        assert time.monotonic() < deadline, f"no new consumer leader within 60s: {report}\n{cluster.logs()}"
        time.sleep(0.5)
    keda = measure(cluster, rendered, survivor)
    report, code = doctor(cluster, claim_file, cluster.endpoint(survivor))
    assert_same_lag(report, keda)
    assert (code, report["keda"]["readFrom"]) == (0, report["consumerLeader"]), report
    assert old not in {n["name"] for n in report["nodes"]}, report["nodes"]
    assert report["keda"]["lag"] == PUBLISHED, report


TLS_CONFIG = """
listen: 127.0.0.1:{client}
https: 127.0.0.1:{monitoring}
tls {{ cert_file: "{cert}", key_file: "{key}" }}
jetstream {{ store_dir: "{store}" }}
"""


class Answering(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the server's status and body: a monitoring port that is not one."""

    def do_GET(self):
        status, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def bad_endpoint(tmp_path):
    """Starts one kind of bad monitoring endpoint on loopback; returns its host:port."""
    stops = []

    def start(kind: str) -> str:
        if kind in ("HTTP error", "not JSON"):
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
            server.answer = (503, "<html>down</html>") if kind == "HTTP error" else (200, "<html>hello</html>")
            threading.Thread(target=server.serve_forever, daemon=True).start()
            stops.append(server.shutdown)
            return f"127.0.0.1:{server.server_address[1]}"
        if kind == "silent":
            # Accepts connections (the kernel's backlog) and never answers.
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(8)
            stops.append(listener.close)
            return f"127.0.0.1:{listener.getsockname()[1]}"
        if kind == "unreachable":
            (port,) = free_ports(1)
            return f"127.0.0.1:{port}"
        log = tmp_path / f"{kind}.log"
        if kind in ("TLS", "TLS untrusted"):
            run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "tls.key", "-out", "tls.crt"], cwd=tmp_path)

            def server(ports):
                config = tmp_path / "tls.conf"
                config.write_text(TLS_CONFIG.format(client=ports[0], monitoring=ports[1], cert=tmp_path / "tls.crt",
                                                    key=tmp_path / "tls.key", store=tmp_path / "store"))
                return Process([tool("nats-server"), "-c", config], log)
        else:  # no JetStream

            def server(ports):
                return Process([tool("nats-server"), "-a", "127.0.0.1", "-p", ports[0], "-m", ports[1]], log)
        process, (_, monitoring) = start_listening(server, 2, log)
        stops.append(process.stop)
        return f"127.0.0.1:{monitoring}"

    yield start
    for stop in stops:
        stop()


@pytest.mark.parametrize("kind, use_https, code, says", [
    ("unreachable", False, "EndpointUnreadable", "connection refused: nothing listens there"),
    ("silent", False, "EndpointUnreadable", "no answer within 1s"),
    ("TLS", False, "EndpointUnreadable", "the monitoring port speaks TLS (HTTPS) and KEDA would ask over plain HTTP; set spec.nats.useHttps: true"),
    ("TLS untrusted", True, "EndpointUnreadable", "TLS failed"),
    ("no JetStream", True, "EndpointUnreadable", "if the port speaks plain HTTP, remove spec.nats.useHttps"),
    ("no JetStream", False, "JetStreamDisabled", "runs without JetStream"),
    ("HTTP error", False, "EndpointUnreadable", "HTTP 503 Service Unavailable (<html>down</html>): is this a NATS monitoring port (8222)?"),
    ("not JSON", False, "EndpointUnreadable", 'not a NATS monitoring answer'),
])
def test_bad_endpoints_give_a_clear_message_and_exit_1(bad_endpoint, tmp_path, kind, use_https, code, says):
    endpoint = bad_endpoint(kind)
    claim_file, _ = claim(tmp_path, "JOBS", useHttps=use_https)
    started = time.monotonic()
    result = run([function_binary(), "doctor", claim_file, "--monitoring", endpoint, "--timeout", 1], check=False)
    assert time.monotonic() - started < 10, "every request is bounded by --timeout"
    assert result.returncode == 1 and "panicked" not in result.stderr, (result.stdout, result.stderr)
    assert f"PROBLEM {code}: " in result.stdout and says in result.stdout, result.stdout
