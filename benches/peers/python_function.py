"""The claim's composition written with the official Python SDK, as a peer to measure against.

It composes the four provider-kubernetes Objects our function composes for a claim (the
ServiceAccount, the Deployment with its optional init container, the Service and the KEDA
ScaledObject), marks the observed ones ready, and copies the Deployment's replica counts to the
XR's status: the work of a steady reconcile, written as a Python function author would write it
(function-template-python's shape: one RunFunction that starts from `response.to`).

It leaves out what a benchmark peer does not need: validation of the spec, the optional kinds
(PodDisruptionBudget, NACK Consumer) and the worker knobs beyond the seed design's fields.

    python python_function.py --address 127.0.0.1:PORT

The load tool (examples/loadgen.rs, --peers) starts it pinned to one core and drives it with
the same observed state as the other servers (BENCHMARKS.md, "Against the peers").
"""

import argparse
import re

import grpc
from crossplane.function import logging, resource, response, runtime
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

OBJECT = "kubernetes.crossplane.io/v1alpha2"
PROVIDER_CONFIG = {"name": "kubernetes-provider"}
SIZES = {
    "small": ({"cpu": "250m", "memory": "512Mi"}, {"cpu": "1000m", "memory": "2Gi"}),
    "medium": ({"cpu": "500m", "memory": "1Gi"}, {"cpu": "2000m", "memory": "4Gi"}),
    "large": ({"cpu": "1000m", "memory": "2Gi"}, {"cpu": "4000m", "memory": "8Gi"}),
}
HARDENED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
TAG = re.compile(r":([^:/@]+)(@.*)?$")
# Ready once the rollout is complete and a replica is available, as our function asks.
DEPLOYMENT_READY = (
    "has(object.status) && has(object.status.conditions) && "
    "object.status.conditions.exists(c, c.type == 'Available' && c.status == 'True') && "
    "has(object.status.observedGeneration) && "
    "object.status.observedGeneration >= object.metadata.generation && "
    "(has(object.status.updatedReplicas) ? object.status.updatedReplicas : 0) >= "
    "(has(object.spec.replicas) ? object.spec.replicas : 1) && "
    "((has(object.spec.replicas) && object.spec.replicas == 0) || "
    "(has(object.status.availableReplicas) && object.status.availableReplicas >= 1))"
)


def labels(name: str, image: str) -> dict:
    """The labels every composed manifest carries."""
    tag = TAG.search(image)
    out = {
        "app.kubernetes.io/component": "event-driven-worker",
        "app.kubernetes.io/managed-by": "crossplane",
        "app.kubernetes.io/name": name,
    }
    if tag:
        out["app.kubernetes.io/version"] = tag.group(1)
    return out


def wrap(manifest: dict, readiness: dict) -> dict:
    """A provider-kubernetes Object holding `manifest`."""
    return {
        "apiVersion": OBJECT,
        "kind": "Object",
        "spec": {
            "forProvider": {"manifest": manifest},
            "providerConfigRef": PROVIDER_CONFIG,
            "readiness": readiness,
        },
    }


def environment(spec: dict) -> tuple[list, list]:
    """The NATS variables, the key-mapped secrets, and the secrets mounted whole."""
    nats = spec["nats"]
    env = [
        {"name": "NATS_URL", "value": nats.get("url", "nats://nats.nats.svc:4222")},
        {"name": "NATS_STREAM_NAME", "value": nats["stream"]},
        {"name": "NATS_CONSUMER_GROUP", "value": nats["consumer"]},
    ]
    env_from = []
    for slot in range(1, 6):
        if name := spec.get(f"secret{slot}Name"):
            env_from.append({"secretRef": {"name": name}})
    for ref in spec.get("secretRefs", []):
        if ref.get("envFrom"):
            env_from.append({"secretRef": {"name": ref["name"]}})
        for key in ref.get("env", []):
            env.append(
                {
                    "name": key["envName"],
                    "valueFrom": {
                        "secretKeyRef": {"name": ref["name"], "key": key["secretKey"]}
                    },
                }
            )
    return env, env_from


def deployment(name: str, namespace: str, spec: dict, meta: dict) -> dict:
    """The worker's Deployment, with no replica count: KEDA owns it."""
    requests, limits = SIZES[spec.get("size", "medium")]
    env, env_from = environment(spec)
    container = {
        "name": "main",
        "image": spec["image"],
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": env,
        "envFrom": env_from,
        "resources": {"requests": requests, "limits": limits},
        "securityContext": HARDENED,
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": 8080},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": 8080},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 2,
        },
    }
    pod = {
        "serviceAccountName": name,
        "securityContext": {
            "fsGroup": 1000,
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }
    if pulls := spec.get("imagePullSecrets"):
        pod["imagePullSecrets"] = pulls
    if init := spec.get("initContainer"):
        pod["initContainers"] = [
            {
                "name": "init",
                "image": spec["image"],
                "command": init.get("command", []),
                "args": init.get("args", []),
                "env": env,
                "envFrom": env_from,
                "resources": {"requests": requests, "limits": limits},
                "securityContext": HARDENED,
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": meta},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": meta}, "spec": pod},
        },
    }


def scaled_object(name: str, namespace: str, spec: dict, meta: dict) -> dict:
    """KEDA's ScaledObject on the consumer's lag."""
    nats = spec["nats"]
    scaling = spec.get("scaling", {})
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": f"{name}-scaler", "namespace": namespace, "labels": meta},
        "spec": {
            "scaleTargetRef": {"name": name},
            "minReplicaCount": scaling.get("minReplicas", 1),
            "maxReplicaCount": scaling.get("maxReplicas", 10),
            "pollingInterval": scaling.get("pollingInterval", 5),
            "cooldownPeriod": scaling.get("cooldownPeriod", 300),
            "triggers": [
                {
                    "type": "nats-jetstream",
                    "metadata": {
                        "natsServerMonitoringEndpoint": nats.get(
                            "monitoringEndpoint",
                            "nats-headless.nats.svc.cluster.local:8222",
                        ),
                        "account": nats.get("account", "$G"),
                        "stream": nats["stream"],
                        "consumer": nats["consumer"],
                        "lagThreshold": str(scaling.get("lagThreshold", 5)),
                    },
                }
            ],
        },
    }


def compose(xr: dict) -> dict:
    """The four Objects of the claim behind `xr`, by composition resource name."""
    claim = xr["metadata"].get("labels", {})
    name = claim.get("crossplane.io/claim-name", xr["metadata"]["name"])
    namespace = claim.get("crossplane.io/claim-namespace", "default")
    spec = xr["spec"]
    meta = labels(name, spec["image"])
    named = {"name": name, "namespace": namespace, "labels": meta}
    return {
        "serviceaccount": wrap(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "automountServiceAccountToken": False,
                "metadata": named,
            },
            {"policy": "SuccessfulCreate"},
        ),
        "deployment": wrap(
            deployment(name, namespace, spec, meta),
            {"policy": "DeriveFromCelQuery", "celQuery": DEPLOYMENT_READY},
        ),
        "service": wrap(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": named,
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"app.kubernetes.io/name": name},
                    "ports": [
                        {
                            "name": "http",
                            "port": 8080,
                            "targetPort": "http",
                            "protocol": "TCP",
                        }
                    ],
                },
            },
            {"policy": "SuccessfulCreate"},
        ),
        "scaledobject": wrap(
            scaled_object(name, namespace, spec, meta), {"policy": "DeriveFromObject"}
        ),
    }


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """Composes the claim's Objects on every call."""

    def __init__(self):
        self.log = logging.get_logger()

    async def RunFunction(  # noqa: N802 # gRPC requires this name.
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        log = self.log.bind(tag=req.meta.tag)
        log.info("Running function")
        rsp = response.to(req)
        xr = resource.struct_to_dict(req.observed.composite.resource)
        for key, obj in compose(xr).items():
            resource.update(rsp.desired.resources[key], obj)
            observed = req.observed.resources.get(key)
            if observed is None:
                continue
            ready = resource.get_condition(observed.resource, "Ready")
            if ready.status == "True":
                rsp.desired.resources[key].ready = fnv1.READY_TRUE
        live = req.observed.resources.get("deployment")
        if live is not None:
            status = (
                resource.struct_to_dict(live.resource)
                .get("status", {})
                .get("atProvider", {})
                .get("manifest", {})
                .get("status", {})
            )
            counts = {
                k: status[k]
                for k in ("replicas", "readyReplicas", "availableReplicas")
                if k in status
            }
            resource.update(rsp.desired.composite, {"status": counts})
        return rsp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="0.0.0.0:9443")
    args = parser.parse_args()
    logging.configure()
    runtime.serve(FunctionRunner(), args.address, creds=None, insecure=True)


if __name__ == "__main__":
    main()
