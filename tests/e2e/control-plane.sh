#!/usr/bin/env bash
# A real control plane on loopback: etcd, kube-apiserver and Crossplane core, started from the
# pinned tools build.sh caches, and our packages put through them.
#
# What it proves, stage by stage:
#   1. Both XRDs (apis/definition.yaml for claims, apis/v2/definition.yaml for namespaced XRs)
#      become Established: the API server accepts the CRDs Crossplane generates from them,
#      CEL cost estimate included. Their Compositions are accepted.
#   2. Every example and everything `render` prints for it (the XR, the composed resources
#      and, inside provider-kubernetes Objects, the manifests themselves) passes a server-side
#      dry-run apply with the KEDA, NACK and provider-kubernetes CRDs installed.
#   3. The live loop (live.sh): with provider-kubernetes, our function and Configuration
#      packages pushed to a local registry and each Configuration installed from there by
#      Crossplane's package manager (packages.sh), and our binary served over mutual TLS at
#      the revision Crossplane installed, a claim, a v2 XR through Objects and a v2 XR composed
#      directly each become their four live objects, report status back, keep KEDA's replica
#      count, follow an update, survive a Fatal result and a dead function without deleting
#      anything, and go away when deleted; the function is upgraded under a Ready claim.
#
# Usage: tests/e2e/control-plane.sh
# Environment:
#   SHARED_SCHEMAS_DIR   upstream schemas (default: ../shared/schemas beside the repository)
#   FUNCTION_BINARY      the release binary (default: target/release/function-event-driven-service)
#   RUNTIME_IMAGE        the runtime image tarball package/image.sh built, embedded in the
#                        function package (default: target/image/runtime.tar)
#   E2E_TOOLS_DIR        the tools cache (see tools/versions.sh); build it with tools/build.sh
#   E2E_KEEP=1           keep the work directory (certificates, data, logs) after a green run
#   E2E_LIVE=0           stop after the dry-run stages (needs only etcd, kube-apiserver,
#                        kubectl and crossplane-core)
#   E2E_EXTRA_CLAIMS=DIR also apply every claim in DIR (in the claim flavour) and report
#                        whether it composed, became Ready and shows what its durable consumer,
#                        KEDA pause, fallback and pace, and rollout on config changes ask for
#
# Every process is started here, waits for readiness with a bound, is stopped by its PID on
# exit (green or not), and logs into a directory whose tails are printed when a stage fails.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=tools/versions.sh
source "$repo/tests/e2e/tools/versions.sh"
schemas="${SHARED_SCHEMAS_DIR:-$repo/../shared/schemas}"
binary="${FUNCTION_BINARY:-$repo/target/release/function-event-driven-service}"

work="$(mktemp -d "${TMPDIR:-/tmp}/control-plane.XXXXXX")"
logs="$work/logs"
mkdir -p "$logs"

passed=0
declare -A pids=()
started=() # names in start order, stopped in reverse

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
  printf '\nFAILED: %s\n' "$*" >&2
  exit 1
}
pass() {
  passed=$((passed + 1))
  say "ok: $*"
}

cleanup() {
  local rc=$?
  set +e
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    stop "${started[i]}"
  done
  if ((rc != 0)); then
    for f in "$logs"/*.log; do
      [[ -s $f ]] || continue
      printf '\n----- last lines of %s -----\n' "$f" >&2
      tail -n 40 "$f" >&2
    done
    printf '\nlogs and state kept in %s\n' "$work" >&2
    printf 'control-plane: %d passed, 1 failed\n' "$passed"
  elif [[ ${E2E_KEEP:-} == 1 ]]; then
    say "work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: runs COMMAND in the background, output appended to $logs/NAME.log
# (a process started again keeps the log of its earlier run).
start() {
  local name=$1
  shift
  "$@" >>"$logs/$name.log" 2>&1 &
  pids[$name]=$!
  started+=("$name")
  say "started $name (pid ${pids[$name]}, log $logs/$name.log)"
}

# stop NAME: SIGTERM, then SIGKILL after 15 seconds; only the PID this script started.
stop() {
  local name=$1 pid=${pids[$1]:-}
  [[ -n $pid ]] || return 0
  unset "pids[$name]"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  say "$name did not stop within 15s; killing it"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# all_alive: fails the run when a process the script started (and has not stopped) has
# exited, so a wait does not run out its bound on a dead process.
all_alive() {
  local name
  for name in "${!pids[@]}"; do
    kill -0 "${pids[$name]}" 2>/dev/null || fail "$name exited (see $logs/$name.log)"
  done
}

# wait_for SECONDS WHAT COMMAND...: retries COMMAND every half second until it succeeds.
wait_for() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    all_alive
    ((SECONDS < deadline)) || fail "$what: not within ${seconds}s (last try: $("$@" 2>&1 | tail -n 3))"
    sleep 0.5
  done
}

# A port nothing listens on now. The kernel picks it; the tiny window before the program
# binds it is the price of programs that take a port number rather than a listener.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

tool() {
  local path
  path="$(tool_path "$1")"
  [[ -x $path ]] || fail "$1 is not built: run tests/e2e/tools/build.sh $1"
  echo "$path"
}

for cmd in openssl jq curl python3; do
  command -v "$cmd" >/dev/null || fail "$cmd is required"
done
[[ -d $schemas ]] || fail "upstream schemas not found at $schemas (set SHARED_SCHEMAS_DIR)"
[[ -x $binary ]] || fail "$binary is missing: cargo build --release (or set FUNCTION_BINARY)"
ETCD="$(tool etcd)"
KUBE_APISERVER="$(tool kube-apiserver)"
KUBECTL="$(tool kubectl)"
CROSSPLANE_CORE="$(tool crossplane-core)"
say "work directory $work"

# --- Certificates -------------------------------------------------------------------------
# One CA for everything: the API server's serving certificate, Crossplane's client
# certificate and (later) the function's server certificate all chain to it.
pki="$work/pki"
mkdir -p "$pki"
# PKCS#1 keys (`-traditional`): Crossplane's initializer parses the CA key as PKCS#1.
openssl genrsa -traditional -out "$pki/ca.key" 2048 2>/dev/null
openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=control-plane-test-ca" -days 2 \
  -out "$pki/ca.crt" 2>/dev/null

# issue NAME SUBJECT_ALT_NAMES EXTENDED_KEY_USAGE: a key and certificate signed by the CA.
issue() {
  local name=$1 sans=$2 usage=$3
  openssl genrsa -traditional -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "/CN=$name" -out "$pki/$name.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nkeyUsage=digitalSignature,keyEncipherment\n' \
    "$sans" "$usage" >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
}
issue kube-apiserver "IP:127.0.0.1,DNS:localhost" serverAuth
openssl genrsa -out "$pki/service-accounts.key" 2048 2>/dev/null
openssl rsa -in "$pki/service-accounts.key" -pubout -out "$pki/service-accounts.pub" 2>/dev/null
token="$(openssl rand -hex 24)"
printf '%s,admin,admin,system:masters\n' "$token" >"$pki/tokens.csv"

# --- etcd ---------------------------------------------------------------------------------
etcd_port="$(free_port)"
etcd_peer_port="$(free_port)"
start etcd "$ETCD" --name control-plane-test --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "control-plane-test=http://127.0.0.1:$etcd_peer_port" \
  --unsafe-no-fsync --log-level warn
wait_for 60 "etcd healthy" curl -fsS "http://127.0.0.1:$etcd_port/health"
pass "etcd $ETCD_VERSION serves on 127.0.0.1:$etcd_port"

# --- kube-apiserver -----------------------------------------------------------------------
api_port="$(free_port)"
start kube-apiserver "$KUBE_APISERVER" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --cert-dir "$work/apiserver" \
  --tls-cert-file "$pki/kube-apiserver.crt" --tls-private-key-file "$pki/kube-apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --authorization-mode AlwaysAllow --token-auth-file "$pki/tokens.csv" \
  --service-account-issuer "https://127.0.0.1:$api_port" \
  --service-account-key-file "$pki/service-accounts.pub" \
  --service-account-signing-key-file "$pki/service-accounts.key" \
  --disable-admission-plugins ServiceAccount \
  --allow-privileged=true

export KUBECONFIG="$work/kubeconfig"
cat >"$KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: control-plane-test
    cluster:
      server: https://127.0.0.1:$api_port
      certificate-authority: $pki/ca.crt
users:
  - name: admin
    user:
      token: $token
contexts:
  - name: control-plane-test
    context: {cluster: control-plane-test, user: admin}
current-context: control-plane-test
EOF
kubectl() { "$KUBECTL" "$@"; }
wait_for 120 "kube-apiserver ready" kubectl get --raw /readyz
pass "kube-apiserver $KUBERNETES_VERSION serves on 127.0.0.1:$api_port"

# --- Upstream CRDs ------------------------------------------------------------------------
# provider-kubernetes' Object CRD names a conversion webhook whose Service Crossplane fills
# in when it installs the provider; installed by hand there is no Service. Both versions
# share one schema shape, and every Object here is written in the storage version, so no
# conversion is needed.
for crd in "$schemas"/provider-kubernetes/v1.2.1/*.yaml; do
  kubectl create --dry-run=client -o json -f "$crd" |
    jq 'if .spec.conversion.strategy == "Webhook" then .spec.conversion = {strategy: "None"} else . end'
done >"$work/provider-kubernetes-crds.json"
kubectl apply --server-side -f "$work/provider-kubernetes-crds.json" >/dev/null
kubectl apply --server-side -f "$schemas/keda/keda.sh_scaledobjects.yaml" \
  -f "$schemas/keda/keda.sh_triggerauthentications.yaml" -f "$schemas/nack/crds.yml" >/dev/null
kubectl wait --for condition=Established --timeout 60s crd --all >/dev/null
pass "provider-kubernetes v1.2.1, KEDA and NACK CRDs established"

# --- Crossplane core ----------------------------------------------------------------------
kubectl create namespace crossplane-system >/dev/null
# Our CA becomes Crossplane's: init signs Crossplane's client certificate with it.
kubectl -n crossplane-system create secret tls crossplane-root-ca \
  --cert "$pki/ca.crt" --key "$pki/ca.key" >/dev/null
crossplane_env=(
  env POD_NAMESPACE=crossplane-system POD_SERVICE_ACCOUNT=crossplane
  ENABLE_WEBHOOKS=false PACKAGE_RUNTIME=External
  TLS_CA_SECRET_NAME=crossplane-root-ca TLS_CLIENT_SECRET_NAME=crossplane-tls-client
)
# init installs these CRDs itself, then at once reads a Lock through a REST mapping it
# fetched before they existed and fails ("no matches for kind Lock"). Installed and
# Established beforehand, init only updates them.
kubectl apply --server-side -f "$schemas/crossplane/crds-v2.3.4" >/dev/null
kubectl wait --for condition=Established --timeout 60s crd --all >/dev/null
say "crossplane core init"
timeout 180 "${crossplane_env[@]}" CRDS_PATH="$schemas/crossplane/crds-v2.3.4" \
  "$CROSSPLANE_CORE" core init >"$logs/crossplane-init.log" 2>&1 ||
  fail "crossplane core init (see $logs/crossplane-init.log)"
client_certs="$work/crossplane-client"
# The package cache must exist: Crossplane streams a pulled package into it and reports a
# failure to create the file only as "io: read/write on closed pipe".
mkdir -p "$client_certs" "$work/xpkg-cache"
for key in ca.crt tls.crt tls.key; do
  kubectl -n crossplane-system get secret crossplane-tls-client -o "jsonpath={.data.${key//./\\.}}" |
    base64 -d >"$client_certs/$key"
done
# Crossplane's XR circuit breaker stops reacting to an XR's watch events for five minutes
# (but for one every 30s) once they exceed a token bucket, 100 deep and refilled at 1/s by
# default: it is there to stop controllers that fight over a resource. Creating one claim's
# four provider-kubernetes Objects alone gives its XR about 130 watch events within a second
# (provider-kubernetes writes each Object several times while creating its resource, and an
# update costs two tokens), so with the default depth the breaker opens on every claim as it
# is created and each later step of the live loop waits for the 30s probe. The deeper bucket
# absorbs that burst; the refill rate stays, so a sustained fight still opens the breaker,
# and the live loop fails a flavour during which it opened.
# The live loop upgrades our Function by raising a Configuration's dependency constraint; the
# package manager moves an installed dependency only with this alpha flag (v2.3.4
# internal/controller/pkg/resolver: otherwise it keeps any installed version, even one the new
# constraint excludes).
package_manager_flags=(--enable-dependency-version-upgrades)
crossplane_metrics_port="$(free_port)"
start crossplane "${crossplane_env[@]}" \
  TLS_CLIENT_CERTS_DIR="$client_certs" XPKG_CACHE_DIR="$work/xpkg-cache" \
  METRICS_PORT="$crossplane_metrics_port" HEALTH_PROBE_PORT="$(free_port)" \
  "$CROSSPLANE_CORE" core start --debug --circuit-breaker-burst 500 "${package_manager_flags[@]}"
wait_for 120 "Crossplane's XRD controller" kubectl get crd compositeresourcedefinitions.apiextensions.crossplane.io
pass "Crossplane core $CROSSPLANE_CORE_VERSION initialised and running"

# --- XRDs, Compositions, and dry-run applies of every render -------------------------------
# The manifests in a render, ready to apply: composed resources get names (Crossplane would
# generate them), and the manifest inside each provider-kubernetes Object is listed after it.
render_manifests() { # FILE [RENDER FLAGS...]
  local file=$1
  shift
  "$binary" render "$file" "$@" >"$work/render.yaml"
  kubectl create --dry-run=client -o json -f "$work/render.yaml" |
    jq -c '(if .kind == "List" then .items[] else . end)
      | if (.metadata.name // "") == "" then
          .metadata.name = "render-" + .metadata.annotations["crossplane.io/composition-resource-name"]
        else . end
      | ., (.spec.forProvider.manifest // empty)'
}

# dry_run_apply FILE|-: a server-side apply the API server validates and admits, but does not
# store.
dry_run_apply() {
  kubectl apply --server-side --dry-run=server --field-manager control-plane-test -f "$1"
}

xrd_established() {
  kubectl wait --for condition=Established --timeout "${2:-120}s" "xrd/$1" >/dev/null
}

check_xrd() {
  local xrd_file=$1 name
  name="$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$repo/$xrd_file")"
  kubectl apply --server-side -f "$repo/$xrd_file" >/dev/null
  if ! xrd_established "$name" 120; then
    kubectl get xrd "$name" -o yaml >&2
    fail "$xrd_file: the XRD did not become Established"
  fi
  pass "$xrd_file: Established"
}

delete_xrd() {
  local xrd_file=$1 name
  name="$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$repo/$xrd_file")"
  kubectl delete --timeout 120s -f "$repo/$xrd_file" >/dev/null
  # The two XRDs define the same CRD: wait until Crossplane has removed it.
  wait_for 120 "the CRDs of $name removed" \
    bash -c "! '$KUBECTL' get crd eventdrivenservices.platform.bizmatters.io"
}

check_composition() {
  local file=$1 name
  kubectl apply --server-side -f "$repo/$file" >/dev/null || fail "$file refused"
  name="$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$repo/$file")"
  wait_for 60 "a CompositionRevision of $name" \
    bash -c "'$KUBECTL' get compositionrevisions -l crossplane.io/composition-name=$name -o name | grep -q ."
  pass "$file: accepted, revision created"
}

# The render flags an example names in its `# render-flags:` line.
render_flags() { sed -n 's/^# render-flags://p' "$1" | head -n 1; }

# check_render FILE LABEL [RENDER FLAGS...]: the example and every manifest of its render
# pass a server-side dry run.
check_render() {
  local file=$1 label=$2 ns rel count=0 doc
  shift 2
  rel=${file#"$repo/"}
  ns="$(kubectl create --dry-run=client -o jsonpath='{.metadata.namespace}' -f "$file")"
  if [[ -n $ns ]]; then # a claim's XR is cluster-scoped
    kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  fi
  (cd "$repo" && render_manifests "$rel" "$@") >"$work/manifests.jsonl" ||
    fail "$rel: render $* failed"
  dry_run_apply "$file" >"$logs/dry-run.log" 2>&1 ||
    fail "$rel ($label): the API server refuses the example itself: $(cat "$logs/dry-run.log")"
  while IFS= read -r doc; do
    printf '%s\n' "$doc" >"$work/doc.json"
    dry_run_apply "$work/doc.json" >"$logs/dry-run.log" 2>&1 ||
      fail "$rel ($label): the API server refuses $(jq -r '.kind + " " + .metadata.name' "$work/doc.json"): $(cat "$logs/dry-run.log")"
    count=$((count + 1))
  done <"$work/manifests.jsonl"
  pass "$rel ($label): the example and the $count manifests of its render pass a server-side dry run"
}

# check_refused LABEL MESSAGE JQ-FILTER: the minimal claim changed by JQ-FILTER is refused by
# the API server, which names MESSAGE. A control: the rules above really run.
check_refused() {
  local label=$1 message=$2 filter=$3
  kubectl create --dry-run=client -o json -f "$repo/examples/minimal-claim.yaml" |
    jq "$filter" >"$work/refused.json"
  kubectl create namespace workers --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  if dry_run_apply "$work/refused.json" >"$logs/dry-run.log" 2>&1; then
    fail "$label: the API server accepted it"
  fi
  grep -qF -- "$message" "$logs/dry-run.log" ||
    fail "$label: refused, but not with \"$message\": $(cat "$logs/dry-run.log")"
  pass "$label: refused (\"$message\")"
}

# The XRD's rules on secretRefs, where the CEL cost bounds apply.
check_refusals() {
  check_refused "a reserved variable name" "set by the platform" \
    '.spec.secretRefs = [{name: "s", env: [{secretKey: "k", envName: "NATS_URL"}]}]'
  check_refused "65 secretRefs" "must have at most 64 items" \
    '.spec.secretRefs = [range(65) | {name: "s\(.)", envFrom: true}]'
  check_refused "both envFrom and env" "set exactly one of" \
    '.spec.secretRefs = [{name: "s", envFrom: true, env: [{secretKey: "k", envName: "K"}]}]'
}

claims=() namespaced=()
for file in "$repo"/examples/*.yaml; do
  grep -qE '^kind: X?EventDrivenService$' "$file" || continue
  if [[ $(render_flags "$file") == *--namespaced* ]]; then
    namespaced+=("$file")
  else
    claims+=("$file")
  fi
done
((${#claims[@]} > 0 && ${#namespaced[@]} > 0)) || fail "examples/ lacks claims or namespaced XRs"

say "Crossplane v1 flavour: claims"
check_xrd apis/definition.yaml
check_composition apis/composition.yaml
check_refusals
for file in "${claims[@]}"; do
  # shellcheck disable=SC2046 # the flags are words
  check_render "$file" "claim" $(render_flags "$file")
done
delete_xrd apis/definition.yaml

say "Crossplane v2 flavour: namespaced XRs"
check_xrd apis/v2/definition.yaml
check_composition apis/v2/composition-objects.yaml
check_composition apis/v2/composition-direct.yaml
check_refusals
for file in "${namespaced[@]}"; do
  # shellcheck disable=SC2046 # the flags are words
  check_render "$file" "namespaced XR" $(render_flags "$file")
done
# Every claim is also a valid namespaced XR, through either v2 Composition.
for file in "${claims[@]}"; do
  grep -qE '^kind: EventDrivenService$' "$file" || continue
  check_render "$file" "as a namespaced XR, Objects" --namespaced
  check_render "$file" "as a namespaced XR, Direct" --namespaced --input examples/input-direct.yaml
done
delete_xrd apis/v2/definition.yaml

# --- The live loop: provider-kubernetes, the function over mutual TLS, claims to objects ----
if [[ ${E2E_LIVE:-1} == 0 ]]; then
  say "E2E_LIVE=0: skipping the live scenarios"
  printf '\ncontrol-plane: %d passed, 0 failed\n' "$passed"
  exit 0
fi
# shellcheck source-path=SCRIPTDIR source=live.sh
source "$repo/tests/e2e/live.sh"

printf '\ncontrol-plane: %d passed, 0 failed\n' "$passed"
