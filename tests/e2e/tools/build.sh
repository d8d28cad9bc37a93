#!/usr/bin/env bash
# Builds the pinned upstream tools the end-to-end tests run, from the Go module proxy, into a
# cache outside the clone. A tool already in the cache is not built again, so a warm run takes
# seconds. Usage: build.sh [TOOL...] (default: every tool); prints each tool's path and build time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=versions.sh
source "$here/versions.sh"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
mkdir -p "$TOOLS_BIN"

# go build of a package inside one of our wrapper modules: the proxy serves no version lists
# here, which `go install PKG@VERSION` asks for, and core's own go.mod has a replace directive.
build_wrapped() { # NAME WRAPPER_DIR PACKAGE [LDFLAGS]
  local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
  (cd "$here/$dir" && go build -trimpath -ldflags "$ldflags" -o "$(tool_path "$name")" "$pkg")
}

# module_dir WRAPPER_DIR MODULE: where the module cache holds MODULE at the wrapper's version.
module_dir() { (cd "$here/$1" && go list -m -f '{{.Dir}}' "$2"); }

# The files a controller reads besides its binary come from its module, cached beside the
# binary under tool_data's name. They are written before the binary, whose presence is what
# says a tool is built.
write_data() { # NAME
  case "$1" in
    # kwok has no default stages; the module's "fast" ones make a node Ready and run pods at once.
    kwok)
      local dir
      dir="$(module_dir kwok sigs.k8s.io/kwok)/kustomize/stage"
      for stage in node/fast/node-initialize pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
        printf -- '---\n'
        cat "$dir/$stage.yaml"
      done >"$(tool_data kwok)"
      ;;
    keda-operator)
      local dir
      dir="$(module_dir keda-operator github.com/kedacore/keda/v2)/config/crd/bases"
      for crd in "$dir"/*.yaml; do
        printf -- '---\n'
        cat "$crd"
      done >"$(tool_data keda-operator)"
      ;;
  esac
}

build_one() {
  case "$1" in
    crossplane) build_wrapped "$1" crossplane-cli github.com/crossplane/cli/v2/cmd/crossplane ;;
    crossplane-core)
      build_wrapped "$1" crossplane-core github.com/crossplane/crossplane/v2/cmd/crossplane \
        "-X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=$CROSSPLANE_CORE_VERSION" ;;
    nats-server) build_wrapped "$1" nats-server github.com/nats-io/nats-server/v2 ;;
    keda-nats-probe) build_wrapped "$1" keda-nats-probe . ;;
    etcd) build_wrapped "$1" etcd . ;;
    # The version is stamped the way Kubernetes' own build does it; unstamped, the binaries
    # report v0.0.0 and clients warn about version skew.
    kube-apiserver | kubectl | kube-controller-manager | kube-scheduler)
      local minor=${KUBERNETES_VERSION#v1.}
      build_wrapped "$1" kubernetes "k8s.io/kubernetes/cmd/$1" \
        "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" ;;
    provider-kubernetes)
      build_wrapped "$1" provider-kubernetes github.com/crossplane-contrib/provider-kubernetes/cmd/provider ;;
    crane) build_wrapped "$1" crane github.com/google/go-containerregistry/cmd/crane ;;
    function-patch-and-transform)
      build_wrapped "$1" function-patch-and-transform github.com/crossplane-contrib/function-patch-and-transform ;;
    actionlint) build_wrapped "$1" actionlint github.com/rhysd/actionlint/cmd/actionlint ;;
    kwok) build_wrapped "$1" kwok sigs.k8s.io/kwok/cmd/kwok ;;
    keda-operator) build_wrapped "$1" keda-operator github.com/kedacore/keda/v2/cmd/operator ;;
    nack) build_wrapped "$1" nack github.com/nats-io/nack/cmd/jetstream-controller ;;
    natscli) build_wrapped "$1" natscli github.com/nats-io/natscli/nats ;;
    *) echo "build.sh: unknown tool $1 (known: ${ALL_TOOLS[*]})" >&2; return 2 ;;
  esac
}

for tool in "${@:-${ALL_TOOLS[@]}}"; do
  path="$(tool_path "$tool")"
  if [[ -x "$path" ]]; then
    printf '%-18s cached   %s\n' "$tool" "$path"
    continue
  fi
  start=$SECONDS
  write_data "$tool"
  build_one "$tool"
  printf '%-18s built in %4ds  %s\n' "$tool" $((SECONDS - start)) "$path"
done
