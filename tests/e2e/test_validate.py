"""Crossplane's own validator (`crossplane resource validate`, crossplane/cli v2.5.0) on what
we ship and what we render: the XRDs and Compositions against Crossplane's CRDs (and their
step inputs against our Input CRD), and every
example's rendered XR and composed resources against the XR schema Crossplane derives from our
XRD, the provider-kubernetes v1.2.1, KEDA and NACK CRDs, and the Kubernetes schemas it carries.
Nothing is downloaded, and a resource without a schema is an error."""

import pytest
import yaml

from example_files import COMPOSITIONS, EXAMPLES, XRDS, flags_of, flavour
from function_server import REPO, function_binary
from tooling import SCHEMAS, run
OFFLINE = ["--crossplane-image=", "--error-on-missing-schemas"]


@pytest.fixture(scope="module")
def schemas():
    if not SCHEMAS.is_dir():
        pytest.fail(f"{SCHEMAS} is missing: check out shared/ beside the repository or set SHARED_SCHEMAS_DIR")
    return SCHEMAS


def validate(crossplane, extensions, resources):
    out = run([crossplane, "resource", "validate", *OFFLINE, ",".join(map(str, extensions)), resources]).stdout
    assert "0 failure cases" in out and "0 missing schemas" in out, out
    return out


def test_the_xrds_and_compositions_pass_crossplanes_own_crds(crossplane, schemas, tmp_path):
    shipped = tmp_path / "shipped.yaml"
    shipped.write_text("\n---\n".join(p.read_text() for p in XRDS + COMPOSITIONS))
    # The Compositions' step inputs are checked against our Input CRD.
    input_crd = REPO / "package/input/eventdrivenservice.fn.bizmatters.io_inputs.yaml"
    out = validate(crossplane, [schemas / "crossplane/crds-v2.3.4", input_crd], shipped)
    # Each Composition's step input is validated as a resource of its own.
    assert f"Total {len(XRDS) + 2 * len(COMPOSITIONS)} resources" in out, out


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_rendered_manifest_passes(example, crossplane, schemas, tmp_path):
    flags = flags_of(example)
    xrd, _ = flavour(flags)
    rendered = tmp_path / "rendered.yaml"
    printed = run([function_binary(), "render", example, *flags]).stdout
    rendered.write_text(printed)
    extensions = [xrd, schemas / "provider-kubernetes/v1.2.1", schemas / "keda", schemas / "nack"]
    out = validate(crossplane, extensions, rendered)
    # The XR and every composed resource (four, five with a PodDisruptionBudget, three
    # without a Service), each with a schema.
    documents = [d for d in yaml.safe_load_all(printed) if d]
    assert len(documents) >= 4, printed
    assert f"Total {len(documents)} resources" in out, out
