# The pinned upstream tools of the end-to-end tests, and where they are cached. Sourced by
# build.sh and by every script that runs a tool; a new version gets a new file name, so the
# cache never serves a stale build.
# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
CROSSPLANE_CLI_VERSION=v2.5.0
CROSSPLANE_CORE_VERSION=v2.3.4
NATS_SERVER_VERSION=v2.11.9
KEDA_VERSION=v2.18.0
ETCD_VERSION=v3.6.16
KUBERNETES_VERSION=v1.35.4
PROVIDER_KUBERNETES_VERSION=v1.2.1
CRANE_VERSION=v0.21.9
# The peer the load tool compares the function with (BENCHMARKS.md, "Against the peers").
PATCH_AND_TRANSFORM_VERSION=v0.10.7
ACTIONLINT_VERSION=v1.7.12
KWOK_VERSION=v0.7.0
NACK_VERSION=v0.22.4
NATSCLI_VERSION=v0.3.0

TOOLS_BIN="${E2E_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/function-event-driven-service/tools}"
ALL_TOOLS=(crossplane crossplane-core nats-server keda-nats-probe etcd kube-apiserver kubectl kube-controller-manager provider-kubernetes crane
  function-patch-and-transform actionlint kube-scheduler kwok keda-operator nack natscli)

# The cached file of a tool: its name and pinned version.
tool_file() {
  case "$1" in
    crossplane) echo "crossplane-cli-$CROSSPLANE_CLI_VERSION" ;;
    crossplane-core) echo "crossplane-core-$CROSSPLANE_CORE_VERSION" ;;
    nats-server) echo "nats-server-$NATS_SERVER_VERSION" ;;
    # Our probe is rebuilt whenever its source changes.
    keda-nats-probe) echo "keda-nats-probe-$KEDA_VERSION-$(cat "$(dirname "${BASH_SOURCE[0]}")"/keda-nats-probe/*.go "$(dirname "${BASH_SOURCE[0]}")"/keda-nats-probe/go.sum 2>/dev/null | sha256sum | cut -c1-12)" ;;
    etcd) echo "etcd-$ETCD_VERSION" ;;
    kube-apiserver | kubectl | kube-controller-manager | kube-scheduler) echo "$1-$KUBERNETES_VERSION" ;;
    provider-kubernetes) echo "provider-kubernetes-$PROVIDER_KUBERNETES_VERSION" ;;
    crane) echo "crane-$CRANE_VERSION" ;;
    function-patch-and-transform) echo "function-patch-and-transform-$PATCH_AND_TRANSFORM_VERSION" ;;
    actionlint) echo "actionlint-$ACTIONLINT_VERSION" ;;
    kwok) echo "kwok-$KWOK_VERSION" ;;
    keda-operator) echo "keda-operator-$KEDA_VERSION" ;;
    nack) echo "nack-jetstream-controller-$NACK_VERSION" ;;
    natscli) echo "natscli-$NATSCLI_VERSION" ;;
    *) echo "$1" ;;
  esac
}
tool_path() { echo "$TOOLS_BIN/$(tool_file "$1")"; }
# What a controller reads from its module besides its binary (build.sh writes it): kwok's
# stages and the KEDA operator's six CRDs. NACK's CRDs are in the upstream schemas already.
tool_data() {
  case "$1" in
    kwok) echo "$(tool_path "$1")-stages.yaml" ;;
    keda-operator) echo "$(tool_path "$1")-crds.yaml" ;;
  esac
}
