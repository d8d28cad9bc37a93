"""Crossplane's own render engine against ours: for every example, `crossplane composition
render` (crossplane/cli, with Crossplane core's engine run locally) calling the release binary
must produce exactly what the binary's offline `render` prints for the same XR, Composition
Input and observed resources.

Only what Crossplane itself generates is set aside: composed resources' generated names, owner
references and Crossplane's labels, the XR's resource references, the step name Crossplane puts
before each result, and the conditions and results of Crossplane's own reconciler (Synced,
Responsive, composition selection). Readiness is compared through Crossplane's per-resource "not yet ready" results and
its Ready condition.
"""

import datetime
import difflib
import re

import pytest
import yaml

from function_server import REPO, function_binary
from example_files import EXAMPLES, documents, flags_of, flavour, step_input
from tooling import run

FUNCTIONS = REPO / "examples" / "functions.yaml"
# Conditions and results Crossplane's reconciler adds on its own.
CROSSPLANE_CONDITIONS = {"Synced", "Responsive", "Ready"}
CROSSPLANE_RESULT_REASONS = {"SelectComposition", "ComposeResources"}
SEVERITIES = {"NORMAL": "Normal", "WARNING": "Warning", "FATAL": "Fatal"}


def by_key(resources) -> dict:
    """Composed resources by their composition resource name."""
    return {r["metadata"]["annotations"]["crossplane.io/composition-resource-name"]: r for r in resources}


def ours(example, flags, input_file):
    """Our offline render: the XR, the composed resources by key, readiness, events."""
    args = [function_binary(), "render", example, "--input", input_file]
    if "--namespaced" in flags:
        args.append("--namespaced")
    for flag in ("--observed", "--required-resources"):
        if flag in flags:
            args += [flag, REPO / flags[flags.index(flag) + 1]]
    out = run(args).stdout
    ready = dict(re.findall(r"^# (\w+): (READY_\w+)$", out, re.M))
    events = [
        {"severity": SEVERITIES[s], "reason": r, "message": m}
        for s, r, m in re.findall(r"^# event (\w+) (\w+): (.*)$", out, re.M)
    ]
    xr, *resources = documents(out)
    composed = by_key(resources)
    return xr, composed, ready, events


def crossplane_render(crossplane, crossplane_core, server, xr_file, composition, xrd, *flags, check=True):
    """`crossplane composition render` with Crossplane core's engine run locally, calling the
    binary the test serves."""
    return run(
        [
            crossplane, "composition", "render", xr_file, composition, FUNCTIONS,
            f"--xrd={xrd}", f"--crossplane-binary={crossplane_core}",
            f"--function-annotations=render.crossplane.io/runtime-development-target={server.address}",
            "--timeout=60s", *flags,
        ],
        check=check,
    )


def crossplanes(xr, composition, xrd, observed, required, server, crossplane, crossplane_core, tmp_path):
    """Crossplane's render of the same XR, with `required` objects in its cluster; returns the
    XR, resources by key, results."""
    xr_file = tmp_path / "xr.yaml"
    xr_file.write_text(yaml.safe_dump(xr))
    flags = ["--include-function-results"]
    if required:
        flags.append(f"--required-resources={required}")
    if observed:
        observed_file = tmp_path / "observed.yaml"
        observed_file.write_text(yaml.safe_dump_all(observed))
        flags.append(f"--observed-resources={observed_file}")
    out = documents(crossplane_render(crossplane, crossplane_core, server, xr_file, composition, xrd, *flags).stdout)
    results = [d for d in out if d.get("kind") == "Result"]
    (their_xr,) = [d for d in out if d.get("kind") == xr["kind"]]
    resources = [d for d in out if d.get("kind") not in ("Result", xr["kind"])]
    composed = by_key(resources)
    return their_xr, composed, results


def diff(what: str, theirs, ours) -> str:
    """A unified diff of Crossplane's document and ours, for the failure message."""
    lines = difflib.unified_diff(
        yaml.safe_dump(theirs).splitlines(), yaml.safe_dump(ours).splitlines(),
        f"{what} (crossplane render)", f"{what} (our render)", lineterm="",
    )
    return "\n".join(lines)


def conditions(xr, leave_out=()) -> dict:
    """The XR's conditions by type. Our render writes lastTransitionTime unquoted and
    Crossplane quoted; a YAML 1.1 reader takes the first for a timestamp, so both are compared
    as the text they print."""
    def text(value):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime.datetime) else value

    return {
        c["type"]: {k: text(v) for k, v in c.items()}
        for c in xr.get("status", {}).get("conditions", [])
        if c["type"] not in leave_out
    }


def without_crossplane_metadata(resource: dict, namespace, ours: dict) -> dict:
    """A composed resource less what Crossplane adds to every one it composes (and, for a
    namespaced XR, the name and namespace it gives them where the function sets none)."""
    resource = yaml.safe_load(yaml.safe_dump(resource))
    metadata = resource["metadata"]
    for key in ("generateName", "ownerReferences"):
        metadata.pop(key, None)
    # Crossplane names what the function leaves unnamed; a name the function sets must stay.
    if "name" not in ours["metadata"]:
        metadata.pop("name", None)
    labels = {k: v for k, v in metadata.pop("labels", {}).items() if not k.startswith("crossplane.io/")}
    if labels:
        metadata["labels"] = labels
    if namespace and metadata.get("namespace") == namespace and "namespace" not in ours["metadata"]:
        metadata.pop("namespace")
    return resource


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_crossplane_render_matches_ours(example, server, crossplane, crossplane_core, tmp_path):
    flags = flags_of(example)
    xrd, composition = flavour(flags)
    input_file = tmp_path / "input.yaml"
    input_file.write_text(yaml.safe_dump(step_input(composition)))
    our_xr, our_composed, our_ready, our_events = ours(example, flags, input_file)

    # The XR as Crossplane would hold it: what our render composed for, with the status the
    # previous reconcile left (the observed XR of an --observed stream), and the observed
    # composed resources in the XR's namespace.
    xr = {k: v for k, v in our_xr.items() if k != "status"}
    observed = []
    if "--observed" in flags:
        observed_docs = documents((REPO / flags[flags.index("--observed") + 1]).read_text())
        for doc in observed_docs:
            if doc.get("kind") == xr["kind"]:
                xr["status"] = doc.get("status", {})
            else:
                observed.append(doc)
    namespace = xr["metadata"].get("namespace")
    for doc in observed:
        if namespace:
            doc["metadata"]["namespace"] = namespace

    # The objects the function asks for (rolloutOnConfigChange), fetched by Crossplane's own
    # requirements loop from the same file our render answers from.
    required = REPO / flags[flags.index("--required-resources") + 1] if "--required-resources" in flags else None
    their_xr, their_composed, results = crossplanes(
        xr, composition, xrd, observed, required, server, crossplane, crossplane_core, tmp_path
    )

    assert sorted(their_composed) == sorted(our_composed), "composed resource keys"
    for key, resource in our_composed.items():
        theirs = without_crossplane_metadata(their_composed[key], namespace, resource)
        assert theirs == resource, diff(key, theirs, resource)

    their_status = {k: v for k, v in their_xr.get("status", {}).items() if k not in ("conditions", "claimConditionTypes")}
    our_status = {k: v for k, v in our_xr.get("status", {}).items() if k != "conditions"}
    assert their_status == our_status, "XR status"
    assert conditions(their_xr, CROSSPLANE_CONDITIONS) == conditions(our_xr), "XR conditions"

    unready = sorted(k for k in our_composed if our_ready.get(k) != "READY_TRUE")
    not_ready_results = sorted(
        re.fullmatch(r'Composed resource "(\w+)" is not yet ready', r["message"]).group(1)
        for r in results
        if r.get("reason") == "ComposeResources"
    )
    assert not_ready_results == unready, "composed resources Crossplane finds not ready"
    ready = conditions(their_xr)["Ready"]
    assert ready["status"] == ("False" if unready else "True"), ready

    # Crossplane prefixes each result with the pipeline step it came from.
    function_results = [
        {**{k: r[k] for k in ("severity", "reason")}, "message": re.sub(r'^Pipeline step "[^"]+": ', "", r["message"])}
        for r in results
        if r.get("reason") not in CROSSPLANE_RESULT_REASONS
    ]
    assert function_results == our_events, "the function's results (events)"


def test_crossplane_render_fails_with_our_fatal_message(server, crossplane, crossplane_core, tmp_path):
    """A claim the function refuses makes Crossplane's render fail, naming the field."""
    xr = documents((REPO / "examples/xr.yaml").read_text())[0]
    xr["spec"]["nats"]["stream"] = "orders.created"
    xr["spec"]["scaling"] = {"minReplicas": 4, "maxReplicas": 2}
    xr_file = tmp_path / "bad-xr.yaml"
    xr_file.write_text(yaml.safe_dump(xr))
    result = crossplane_render(
        crossplane, crossplane_core, server, xr_file,
        REPO / "apis/composition.yaml", REPO / "apis/definition.yaml", check=False,
    )
    assert result.returncode != 0, result.stdout
    assert "spec.nats.stream" in result.stderr, result.stderr
    assert "spec.scaling.maxReplicas" in result.stderr, result.stderr
    # Ours refuses the same XR with the same messages.
    ours = run([function_binary(), "render", xr_file], check=False)
    assert ours.returncode != 0
    problems = [line.strip() for line in ours.stderr.splitlines() if line.strip().startswith("spec.")]
    assert len(problems) == 2, ours.stderr
    for problem in problems:
        assert problem in result.stderr, (problem, result.stderr)
