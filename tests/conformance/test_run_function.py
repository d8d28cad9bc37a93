"""RunFunction behaviour as Crossplane sees it, checked through the official SDK's stubs."""

import base64
import copy
import pathlib

import grpc
import pytest
import yaml
from google.protobuf import json_format

COMPOSED_KEYS = {"serviceaccount", "deployment", "service", "scaledobject"}

# The XR Crossplane creates for examples/minimal-claim.yaml; the Rust tests start from it too.
CLAIM_XR = yaml.safe_load(
    (pathlib.Path(__file__).resolve().parents[2] / "examples" / "xr.yaml").read_text()
)

EARLIER_RESOURCE = {
    "resource": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"owner": "earlier-step"}},
    "connectionDetails": {"token": base64.b64encode(b"s3cr3t").decode()},
    "ready": "READY_TRUE",
}

EARLIER_XR_STATUS = {"phase": "from-earlier-step", "observedBy": "step-1"}

CONTEXT = {"apiextensions.crossplane.io/environment": {"region": "eu-west-1"}}


def first_step_request(pb2, tag="first-step", xr=None):
    """A request as the first pipeline step receives it: nothing desired yet."""
    return json_format.ParseDict(
        {"meta": {"tag": tag}, "observed": {"composite": {"resource": xr or CLAIM_XR}}},
        pb2.RunFunctionRequest(),
    )


def later_step_request(pb2, tag="later-step", xr=None):
    """A request after an earlier step desired a resource, an XR status, and set context."""
    return json_format.ParseDict(
        {
            "meta": {"tag": tag},
            "observed": {"composite": {"resource": xr or CLAIM_XR}},
            "desired": {
                "composite": {
                    "resource": {
                        "apiVersion": CLAIM_XR["apiVersion"],
                        "kind": CLAIM_XR["kind"],
                        "status": EARLIER_XR_STATUS,
                    }
                },
                "resources": {"earlier-configmap": EARLIER_RESOURCE},
            },
            "context": CONTEXT,
        },
        pb2.RunFunctionRequest(),
    )


def bad_spec_xr():
    xr = copy.deepcopy(CLAIM_XR)
    xr["spec"]["size"] = "gigantic"
    return xr


def as_dict(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def test_tag_is_echoed(protocol):
    rsp = protocol.stub.RunFunction(first_step_request(protocol.pb2, tag="tag-42"))
    assert rsp.meta.tag == "tag-42"


def test_ttl_defaults_to_sixty_seconds(protocol):
    rsp = protocol.stub.RunFunction(first_step_request(protocol.pb2))
    assert rsp.meta.HasField("ttl")
    assert (rsp.meta.ttl.seconds, rsp.meta.ttl.nanos) == (60, 0)


def test_composes_the_four_resources(protocol):
    rsp = protocol.stub.RunFunction(first_step_request(protocol.pb2))
    assert set(rsp.desired.resources) == COMPOSED_KEYS
    for key in COMPOSED_KEYS:
        body = as_dict(rsp.desired.resources[key].resource)
        assert body.get("apiVersion") and body.get("kind"), key
        # Crossplane names composed resources itself.
        assert "name" not in body.get("metadata", {}), key
    assert not [r for r in rsp.results if r.severity == protocol.pb2.SEVERITY_FATAL]


def test_earlier_desired_resource_passes_through(protocol):
    req = later_step_request(protocol.pb2)
    rsp = protocol.stub.RunFunction(req)
    assert "earlier-configmap" in rsp.desired.resources
    assert rsp.desired.resources["earlier-configmap"] == req.desired.resources["earlier-configmap"]
    assert COMPOSED_KEYS <= set(rsp.desired.resources)


def test_desired_xr_status_and_context_pass_through(protocol):
    req = later_step_request(protocol.pb2)
    rsp = protocol.stub.RunFunction(req)
    desired_xr = as_dict(rsp.desired.composite.resource)
    # Other steps own these status fields; this function may add its own, never drop theirs.
    for field, value in EARLIER_XR_STATUS.items():
        assert desired_xr.get("status", {}).get(field) == value, field
    # The function never sets the XR's desired spec or metadata.
    assert "spec" not in desired_xr
    context = as_dict(rsp.context)
    for key, value in CONTEXT.items():
        assert context.get(key) == value, key


def test_bad_spec_is_a_fatal_result_with_desired_state_intact(protocol):
    req = later_step_request(protocol.pb2, tag="bad-spec", xr=bad_spec_xr())
    rsp = protocol.stub.RunFunction(req)
    fatal = [r for r in rsp.results if r.severity == protocol.pb2.SEVERITY_FATAL]
    assert len(fatal) == 1, as_dict(rsp)
    assert "spec.size" in fatal[0].message
    # An empty desired state would make Crossplane delete what earlier steps asked for.
    assert rsp.desired == req.desired
    assert rsp.meta.tag == "bad-spec"


def test_same_request_twice_gives_the_same_bytes(protocol, channel):
    # Raw bytes straight off the wire: Crossplane caches responses and re-runs the function.
    call = channel.unary_unary(
        protocol.method,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=lambda b: b,
    )
    req = later_step_request(protocol.pb2, tag="determinism")
    first, second = call(req), call(req)
    assert first == second
    assert protocol.pb2.RunFunctionResponse.FromString(first).meta.tag == "determinism"


def test_request_without_observed_composite_is_invalid_argument(protocol):
    req = protocol.pb2.RunFunctionRequest(meta=protocol.pb2.RequestMeta(tag="malformed"))
    with pytest.raises(grpc.RpcError) as err:
        protocol.stub.RunFunction(req)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "observed composite" in err.value.details()
