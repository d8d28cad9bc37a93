# The live half of control-plane.sh, sourced by it once the API server and Crossplane run and
# the dry-run stages are green: provider-kubernetes, a local OCI registry holding our packages
# (packages.sh), our release binary served with mutual TLS, each flavour's Configuration
# installed by Crossplane's package manager, and each flavour taken from claim or XR to live
# objects and back to status. Uses control-plane.sh's helpers (start, wait_for, pass,
# fail, kubectl, ...).
# shellcheck shell=bash disable=SC2154 # work, logs, pki, repo, binary, ... are control-plane.sh's

KUBE_CONTROLLER_MANAGER="$(tool kube-controller-manager)"
PROVIDER_KUBERNETES="$(tool provider-kubernetes)"
CRANE="$(tool crane)"
CROSSPLANE_CLI="$(tool crossplane)"

# How often provider-kubernetes re-reads an Object's resource; "two more reconciles" below are
# measured in these.
provider_poll=5
# The TTL of the function's responses (its default, given explicitly). With realtime
# compositions Crossplane runs the function again this long (+/- 10%) after a reconcile; nothing
# else tells it that a Secret or ConfigMap the function read has changed.
function_ttl=60

# --- Garbage collection ----------------------------------------------------------------------
# Crossplane deletes an XR by removing its finalizer and leaves the composed resources to
# Kubernetes' garbage collector (they carry owner references). Only that controller runs: the
# Deployment controller would overwrite the Deployment status this script patches, as a
# kubelet-less cluster has no pods to report.
kcm_port="$(free_port)"
start kube-controller-manager "$KUBE_CONTROLLER_MANAGER" \
  --kubeconfig "$KUBECONFIG" --controllers garbagecollector,namespace \
  --bind-address 127.0.0.1 --secure-port "$kcm_port" --cert-dir "$work/kube-controller-manager" \
  --leader-elect=false --authentication-skip-lookup \
  --authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG"
wait_for 60 "kube-controller-manager healthy" curl -fsSk "https://127.0.0.1:$kcm_port/healthz"
pass "kube-controller-manager $KUBERNETES_VERSION runs the garbage collector"

# --- provider-kubernetes -----------------------------------------------------------------------
# It always serves its conversion webhook on :9443 and metrics on :8080; both must be free.
for port in 9443 8080; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port is in use; provider-kubernetes needs it"
  fi
done
issue provider-kubernetes "IP:127.0.0.1,DNS:localhost" serverAuth
provider_certs="$work/provider-kubernetes-tls"
mkdir -p "$provider_certs"
cp "$pki/provider-kubernetes.crt" "$provider_certs/tls.crt"
cp "$pki/provider-kubernetes.key" "$provider_certs/tls.key"
cp "$pki/ca.crt" "$provider_certs/ca.crt"
provider_health_port="$(free_port)"
start provider-kubernetes env TLS_SERVER_CERTS_DIR="$provider_certs" \
  "$PROVIDER_KUBERNETES" --debug --poll "${provider_poll}s" \
  --health-probe-bind-addr "127.0.0.1:$provider_health_port"
wait_for 60 "provider-kubernetes healthy" curl -fsS "http://127.0.0.1:$provider_health_port/readyz"

# Its credentials: the same API server, as a kubeconfig with the CA inlined.
kubectl config view --raw --flatten --minify >"$work/provider-kubeconfig"
kubectl -n crossplane-system create secret generic kubernetes-provider-credentials \
  --from-file kubeconfig="$work/provider-kubeconfig" >/dev/null
for kind in kubernetes.crossplane.io/v1alpha1:ProviderConfig kubernetes.m.crossplane.io/v1alpha1:ClusterProviderConfig; do
  kubectl apply --server-side -f - >/dev/null <<EOF
apiVersion: ${kind%%:*}
kind: ${kind#*:}
metadata:
  name: kubernetes-provider
spec:
  credentials:
    source: Secret
    secretRef: {namespace: crossplane-system, name: kubernetes-provider-credentials, key: kubeconfig}
EOF
done
pass "provider-kubernetes $PROVIDER_KUBERNETES_VERSION running, ProviderConfig and ClusterProviderConfig kubernetes-provider"

# --- Our packages in a local registry (packages.sh) ------------------------------------------
# shellcheck source-path=SCRIPTDIR source=packages.sh
source "$repo/tests/e2e/packages.sh"
publish_packages

# --- The function, served with mutual TLS --------------------------------------------------------
issue function "IP:127.0.0.1,DNS:localhost" serverAuth
function_certs="$work/function-tls"
mkdir -p "$function_certs"
cp "$pki/function.crt" "$function_certs/tls.crt"
cp "$pki/function.key" "$function_certs/tls.key"
cp "$pki/ca.crt" "$function_certs/ca.crt"
function_port="$(free_port)"
start_function() {
  start function "$binary" --tls-certs-dir "$function_certs" --address "127.0.0.1:$function_port" \
    --ttl "${function_ttl}s" --debug
  wait_for 30 "the function listening" bash -c "exec 3<>/dev/tcp/127.0.0.1/$function_port"
}
start_function

# --- Scenarios ------------------------------------------------------------------------------

# subset A B: every field of A is in B with the same value (quantities compared by value:
# the API server stores 1000m as 1).
# shellcheck disable=SC2016 # jq's variables
subset_jq='
  def q: if type == "string" and test("^[0-9]+m$") then (.[:-1] | tonumber / 1000)
         elif type == "string" and test("^[0-9]+$") then tonumber else . end;
  def sub($a; $b):
    if ($a | type) == "object" then
      ($b | type) == "object" and all($a | keys[]; . as $k | ($b | has($k)) and sub($a[$k]; $b[$k]))
    elif ($a | type) == "array" then
      ($b | type) == "array" and ($a | length) == ($b | length)
        and all(range($a | length); sub($a[.]; $b[.]))
    else ($a | q) == ($b | q) end;
  sub($want; .)'

condition() { # RESOURCE NAMESPACE TYPE -> status of that condition
  kubectl -n "$2" get "$1" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].status}"
}
has_condition() { [[ $(condition "$1" "$2" "$3") == "$4" ]]; }

# scaler_warnings NAMESPACE UID: the Warning Event objects about ScalerReady turning False
# on the object with that UID, with their counts.
scaler_warnings() {
  # shellcheck disable=SC2016 # jq's variable
  kubectl -n "$1" get events -o json | jq -c --arg uid "$2" '[.items[]
    | select(.involvedObject.uid == $uid and .type == "Warning" and .reason == "ScalerReadyFalse")
    | {count: (.count // 1), message}]'
}
has_scaler_warning() { [[ $(scaler_warnings "$1" "$2") != "[]" ]]; }

# report_available NAMESPACE NAME: the Deployment's status as its controller would write it
# with two replicas up (no kubelet runs pods here).
report_available() {
  local now generation
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  generation="$(kubectl -n "$1" get "deployment/$2" -o jsonpath='{.metadata.generation}')"
  kubectl -n "$1" patch "deployment/$2" --subresource status --type merge -p "{\"status\":{
    \"observedGeneration\":$generation,
    \"replicas\":2,\"updatedReplicas\":2,\"readyReplicas\":2,\"availableReplicas\":2,
    \"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"MinimumReplicasAvailable\",
      \"message\":\"Deployment has minimum availability.\",\"lastTransitionTime\":\"$now\",\"lastUpdateTime\":\"$now\"}]}}" >/dev/null
}

# patch_scaler NAMESPACE NAME READY REASON MESSAGE: the ScaledObject's conditions as KEDA
# writes them.
patch_scaler() {
  kubectl -n "$1" patch "scaledobject/$2-scaler" --subresource status --type merge -p "{\"status\":{
    \"conditions\":[
      {\"type\":\"Ready\",\"status\":\"$3\",\"reason\":\"$4\",\"message\":\"$5\"},
      {\"type\":\"Active\",\"status\":\"False\",\"reason\":\"ScalerNotActive\",\"message\":\"Scaling is not performed because triggers are not active\"},
      {\"type\":\"Fallback\",\"status\":\"False\",\"reason\":\"NoFallbackFound\",\"message\":\"No fallbacks are active on this scaled object\"},
      {\"type\":\"Paused\",\"status\":\"False\",\"reason\":\"ScaledObjectNotPaused\",\"message\":\"ScaledObject is not paused\"}]}}" >/dev/null
}

# xr_of NAMESPACE CLAIM: the XR Crossplane reports the pipeline's errors on: a claim's
# cluster-scoped XR, or a v2 XR itself.
xr_of() {
  local ref
  ref="$(kubectl -n "$1" get "$2" -o jsonpath='{.spec.resourceRef.kind}/{.spec.resourceRef.name}')"
  if [[ $ref == XEventDrivenService/?* ]]; then
    echo "xeventdrivenservice/${ref#*/}"
  else
    echo "$2"
  fi
}

# composed_refs NAMESPACE XR: the composed resources Crossplane records on the XR (the
# provider-kubernetes Objects, or the objects themselves when composed directly), as
# kubectl's KIND.VERSION.GROUP/NAME.
composed_refs() {
  kubectl -n "$1" get "$2" -o json | jq -r '(.spec.crossplane.resourceRefs // .spec.resourceRefs // [])[]
    | (.apiVersion | split("/")) as $gv
    | (if ($gv | length) == 2 then "\(.kind).\($gv[1]).\($gv[0])" else .kind end) + "/" + .name'
}

# records_refs NAMESPACE XR N: the XR records N composed resources.
records_refs() { [[ $(composed_refs "$1" "$2" | wc -l) == "$3" ]]; }

# none_left NAMESPACE RESOURCE...: none of them exists any more.
none_left() {
  local ns=$1 out
  shift
  out="$(kubectl -n "$ns" get "$@" --ignore-not-found -o name)" && [[ -z $out ]]
}

# delete_fully LABEL NAMESPACE CLAIM LIVE-OBJECTS...: deletes the claim or XR and waits until
# it, its XR, every composed resource and the live objects are gone. provider-kubernetes
# finds an Object's resource by kind, namespace and name alone, so an Object still being
# deleted deletes whatever carries that name by then: a later claim of the same name must
# not start before the Objects are gone.
delete_fully() {
  local label=$1 ns=$2 claim=$3 xr refs
  shift 3
  xr="$(xr_of "$ns" "$claim")"
  # None when the function refused the claim from the start.
  mapfile -t refs < <(composed_refs "$ns" "$xr")
  kubectl -n "$ns" delete "$claim" --timeout 180s >/dev/null
  wait_for 240 "$label: $xr, its ${#refs[@]} composed resources and the live objects deleted" \
    none_left "$ns" "$xr" "${refs[@]}" "$@"
}

# crossplane_metric NAME: the sum of Crossplane's metric NAME over its XR controllers.
crossplane_metric() {
  curl -fsS "http://127.0.0.1:$crossplane_metrics_port/metrics" |
    awk -v name="$1" '$1 ~ "^" name "\\{controller=\"composite/" { n += $NF } END { print n + 0 }'
}

# reconciles: how many XR reconciles Crossplane has finished.
reconciles() { crossplane_metric controller_runtime_reconcile_total; }

# reconciled_since COUNT N: N more XR reconciles have finished since reconciles said COUNT.
reconciled_since() { (($(reconciles) >= $1 + $2)); }

# settle LABEL: waits (at most a minute) until no XR reconcile has finished for five seconds;
# with the function up a reconcile takes well under a second, so none is running either.
settle() {
  local count last stable_since=$SECONDS deadline=$((SECONDS + 60))
  last="$(reconciles)"
  while ((SECONDS - stable_since < 5)); do
    ((SECONDS < deadline)) || fail "$1: Crossplane did not stop reconciling within 60s"
    sleep 1
    count="$(reconciles)"
    [[ $count == "$last" ]] || last=$count stable_since=$SECONDS
  done
}

# poke NAMESPACE RESOURCE: a change to a composed resource, which makes Crossplane reconcile
# its XR without writing the XR itself (a write to the XR would make the status update of a
# reconcile already running fail on a conflict, and Crossplane retry it silently).
poke() {
  kubectl -n "$1" annotate --overwrite "$2" e2e/poke="$(date +%s%N)" >/dev/null
}

# reported_ready LABEL NAMESPACE NAME CLAIM SECONDS: once the claim's XR records its four
# composed resources (provider-kubernetes has settled them; a later apply of the Deployment
# would make a status reported earlier stale), the controllers' reports, patched as they would
# write them; waits until the claim is Ready. Leaves the composed resources in `refs`.
reported_ready() {
  local label=$1 ns=$2 name=$3 claim=$4 seconds=$5 xr
  xr="$(xr_of "$ns" "$claim")"
  wait_for 60 "$label: $xr records its four composed resources" records_refs "$ns" "$xr" 4
  mapfile -t refs < <(composed_refs "$ns" "$xr")
  report_available "$ns" "$name"
  patch_scaler "$ns" "$name" True ScaledObjectReady "ScaledObject is defined correctly and is ready for scaling"
  wait_for "$seconds" "$label: $name Ready" has_condition "$claim" "$ns" Ready True
}

# live_flavour LABEL FILE JQ-FILTER [RENDER FLAGS...]: the scenarios of one flavour, for the
# claim or XR in FILE (kind EventDrivenService in both flavours) changed by JQ-FILTER.
live_flavour() {
  local label=$1 file=$2 filter=$3 name ns deploy scaler objects breaker_opens
  shift 3
  breaker_opens="$(crossplane_metric circuit_breaker_opens_total)"
  name="$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$repo/$file")"
  ns="$(kubectl create --dry-run=client -o jsonpath='{.metadata.namespace}' -f "$repo/$file")"
  local claim="eventdrivenservice/$name"
  deploy="deployment/$name" scaler="scaledobject/$name-scaler"
  objects=("$deploy" "service/$name" "serviceaccount/$name" "$scaler")
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

  # A claim becomes the four objects, as the golden render shows them.
  kubectl create --dry-run=client -o json -f "$repo/$file" | jq "$filter" >"$work/live.json"
  kubectl apply --server-side --field-manager developer -f "$work/live.json" >/dev/null
  wait_for 180 "$label: the four objects of $name" kubectl -n "$ns" get "${objects[@]}"
  (cd "$repo" && render_manifests "$file" "$@") |
    jq -c 'select(.kind | IN("Deployment", "Service", "ServiceAccount", "ScaledObject"))' \
      >"$work/want.jsonl"
  while IFS= read -r want; do
    local kind obj
    kind="$(jq -r .kind <<<"$want")"
    obj="$(jq -r '.metadata.name' <<<"$want")"
    kubectl -n "$ns" get "$kind/$obj" -o json | jq -e --argjson want "$want" "$subset_jq" >/dev/null ||
      fail "$label: the live $kind $obj differs from the render: $(kubectl -n "$ns" get "$kind/$obj" -o json)"
  done <"$work/want.jsonl"
  # The API server defaults a missing replicas to 1; what matters is that no one but the
  # scaler (here: nobody) owns the field, so applying the manifest never resets it.
  # kubectl hides managedFields unless asked; without them this check would pass vacuously.
  kubectl -n "$ns" get "$deploy" -o json --show-managed-fields | jq -e '.metadata.managedFields | length > 0' >/dev/null ||
    fail "$label: the Deployment has no managedFields to inspect"
  if kubectl -n "$ns" get "$deploy" -o json --show-managed-fields |
    jq -e '.metadata.managedFields[] | select(.fieldsV1["f:spec"]["f:replicas"] != null)' >/dev/null; then
    fail "$label: a field manager owns the Deployment's spec.replicas: $(kubectl -n "$ns" get "$deploy" -o json --show-managed-fields | jq -c .metadata.managedFields)"
  fi
  pass "$label: $name became its four objects, fields as rendered, spec.replicas owned by no one"
  local xr refs
  xr="$(xr_of "$ns" "$claim")"
  reported_ready "$label" "$ns" "$name" "$claim" 240
  has_condition "$claim" "$ns" DeploymentAvailable True || fail "$label: DeploymentAvailable is not True"
  has_condition "$claim" "$ns" ScalerReady True || fail "$label: ScalerReady is not True"
  local status
  status="$(kubectl -n "$ns" get "$claim" -o json | jq -c '.status | {availableReplicas, endpoint}')"
  [[ $status == "{\"availableReplicas\":2,\"endpoint\":\"$name.$ns.svc.cluster.local:8080\"}" ]] ||
    fail "$label: status is $status"
  pass "$label: Ready, DeploymentAvailable, ScalerReady, 2 available replicas, endpoint $name.$ns.svc.cluster.local:8080"

  # A ScaledObject turning Ready=False: ScalerReady=False and one Warning event.
  patch_scaler "$ns" "$name" False ScaledObjectCheckFailed "nats-jetstream: consumer not found"
  wait_for 240 "$label: ScalerReady False" has_condition "$claim" "$ns" ScalerReady False
  local uid warnings
  uid="$(kubectl -n "$ns" get "$claim" -o jsonpath='{.metadata.uid}')"
  wait_for 30 "$label: a ScalerReadyFalse event on $claim" has_scaler_warning "$ns" "$uid"
  # A reconcile that starts before the XR's new ScalerReady=False reaches Crossplane's cache
  # sees the transition again, and Crossplane records the function's Warning once per
  # reconcile. Its event recorder folds repeats of one event into a single Event object
  # whose count grows, so one transition is one Event object, counted once or more.
  sleep $((2 * provider_poll))
  warnings="$(scaler_warnings "$ns" "$uid")"
  [[ $(jq length <<<"$warnings") == 1 ]] ||
    fail "$label: want one ScalerReadyFalse Event object on $claim, got $warnings"
  patch_scaler "$ns" "$name" True ScaledObjectReady "ScaledObject is defined correctly and is ready for scaling"
  wait_for 240 "$label: ScalerReady True again" has_condition "$claim" "$ns" ScalerReady True
  pass "$label: a failing ScaledObject gives ScalerReady=False and one Warning Event (count $(jq '.[0].count' <<<"$warnings"))"

  # No fight with KEDA: the HPA's replica count survives two more XR reconciles and, through
  # Objects, provider-kubernetes' next polls, which apply each Object's manifest again. The
  # same XR is never reconciled twice at once, so of three reconciles that finish after the
  # scale at least two started after it.
  local before i count
  before="$(reconciles)"
  kubectl -n "$ns" scale "$deploy" --replicas 5 >/dev/null
  [[ ${refs[0]} != Object.* ]] || sleep $((3 * provider_poll))
  for i in 1 2 3; do
    count="$(reconciles)"
    poke "$ns" "${refs[0]}"
    wait_for 60 "$label: XR reconcile $i after the scale" reconciled_since "$count" 1
  done
  [[ $(kubectl -n "$ns" get "$deploy" -o jsonpath='{.spec.replicas}') == 5 ]] ||
    fail "$label: spec.replicas was reset to $(kubectl -n "$ns" get "$deploy" -o jsonpath='{.spec.replicas}')"
  pass "$label: spec.replicas 5, set as KEDA's HPA would, is still 5 after $(($(reconciles) - before)) XR reconciles"

  # An update flows: a new image tag reaches the Deployment.
  local image
  image="$(kubectl -n "$ns" get "$claim" -o jsonpath='{.spec.image}')"
  image="${image%:*}:v9.9.9"
  kubectl -n "$ns" patch "$claim" --type merge -p "{\"spec\":{\"image\":\"$image\"}}" >/dev/null
  wait_for 240 "$label: the Deployment runs $image" bash -c \
    "[[ \$('$KUBECTL' -n '$ns' get '$deploy' -o jsonpath='{.spec.template.spec.containers[0].image}') == '$image' ]]"
  pass "$label: the image tag change reached the Deployment"

  # Nothing is deleted by mistake: a claim the XRD admits but the function refuses. Crossplane
  # writes a Fatal result on the XR only (its Synced condition and a Warning event, whatever
  # the result's target); the claim learns of it from the SpecValid condition the function
  # returns with the Fatal result, which Crossplane copies to the claim.
  local uids
  uids="$(kubectl -n "$ns" get "${objects[@]}" -o jsonpath='{.items[*].metadata.uid}')"
  kubectl -n "$ns" patch "$claim" --type merge -p '{"spec":{"secretRefs":[
    {"name":"one","env":[{"secretKey":"a","envName":"SAME"}]},
    {"name":"two","env":[{"secretKey":"b","envName":"SAME"}]}]}}' >/dev/null
  wait_for 240 "$label: the function's Fatal message on $xr" bash -c \
    "'$KUBECTL' -n '$ns' get '$xr' -o yaml | grep -q 'duplicate environment variable'"
  wait_for 120 "$label: SpecValid=False on $claim" has_condition "$claim" "$ns" SpecValid False
  kubectl -n "$ns" get "$claim" \
    -o jsonpath='{.status.conditions[?(@.type=="SpecValid")].message}' |
    grep -q 'duplicate environment variable' ||
    fail "$label: $claim's SpecValid condition does not name the mistake"
  sleep $((2 * provider_poll))
  [[ $(kubectl -n "$ns" get "${objects[@]}" -o jsonpath='{.items[*].metadata.uid}') == "$uids" ]] ||
    fail "$label: objects were deleted or replaced after a Fatal result"
  kubectl -n "$ns" patch "$claim" --type json -p '[{"op":"remove","path":"/spec/secretRefs"}]' >/dev/null
  wait_for 240 "$label: $xr Synced again" has_condition "$xr" "$ns" Synced True
  wait_for 120 "$label: SpecValid=True on $claim" has_condition "$claim" "$ns" SpecValid True
  pass "$label: a spec the function refuses shows its mistakes on $claim, and the four objects stay"

  # The function dies mid-run and comes back. Crossplane's function client waits for the
  # connection to become ready, so a reconcile that calls a dead function fails only at
  # Crossplane's two-minute reconcile timeout, and only then is Synced=False written. That
  # write is lost (a conflict, retried silently) when the XR changed after the reconcile read
  # it, as when it started from a cache one status update behind: the function is stopped only
  # once Crossplane has settled, and the bound allows for one lost write all the same.
  settle "$label"
  stop function
  poke "$ns" "${refs[0]}"
  wait_for 300 "$label: Crossplane reports the unreachable function on $xr" bash -c \
    "[[ \$('$KUBECTL' -n '$ns' get '$xr' -o jsonpath='{.status.conditions[?(@.type==\"Synced\")].message}') == *'cannot run Function'* ]]"
  [[ $(kubectl -n "$ns" get "${objects[@]}" -o jsonpath='{.items[*].metadata.uid}') == "$uids" ]] ||
    fail "$label: objects were deleted or replaced while the function was down"
  start_function
  # Crossplane retries the failed reconcile, and the call goes through once its client has
  # reconnected (gRPC backs off between attempts to reach the dead endpoint).
  wait_for 240 "$label: $xr Synced after the function is back" has_condition "$xr" "$ns" Synced True
  [[ $(kubectl -n "$ns" get "${objects[@]}" -o jsonpath='{.items[*].metadata.uid}') == "$uids" ]] ||
    fail "$label: objects were deleted or replaced after the function came back"
  pass "$label: with the function down Crossplane reports it, deletes nothing, and recovers"

  # Crossplane's circuit breaker opens on an XR whose watched resources change too often, as
  # when two controllers fight over a field (see control-plane.sh); it never opened here.
  (($(crossplane_metric circuit_breaker_opens_total) == breaker_opens)) ||
    fail "$label: Crossplane's circuit breaker opened on $xr: $(kubectl -n "$ns" get "$xr" -o jsonpath='{.status.conditions[?(@.type=="Responsive")]}')"
  pass "$label: Crossplane's circuit breaker stayed closed on $xr throughout"

  # Deleting the claim removes its objects, and the composed resources holding them.
  delete_fully "$label" "$ns" "$claim" "${objects[@]}"
  pass "$label: deleting $name removed its XR, its ${#refs[@]} composed resources and its four objects"
}

# --- Extra claims ------------------------------------------------------------------------------

# config_refs DOC: the Secrets and ConfigMaps the pods of the claim in DOC read, as secret/NAME
# and configmap/NAME: what rolloutOnConfigChange hashes (pull secrets aside).
config_refs() {
  jq -r '.spec
    | ([.secret1Name, .secret2Name, .secret3Name, .secret4Name, .secret5Name,
        (.secretRefs // [])[].name, (.files // [])[].secret]
        | map(select(. != null)) | unique[] | "secret/" + .),
      ([(.configMapRefs // [])[].name, (.files // [])[].configMap]
        | map(select(. != null)) | unique[] | "configmap/" + .)' <<<"$1"
}

# put_config NAMESPACE secret/NAME|configmap/NAME VALUE: creates the Secret or ConfigMap, or
# replaces its data, with one throwaway key set to VALUE.
put_config() {
  local name=${2#*/}
  case ${2%%/*} in
    secret) kubectl -n "$1" create secret generic "$name" --from-literal E2E_SETTING="$3" --dry-run=client -o json ;;
    configmap) kubectl -n "$1" create configmap "$name" --from-literal E2E_SETTING="$3" --dry-run=client -o json ;;
  esac | kubectl apply --server-side --field-manager control-plane-test -f - >/dev/null
}

# config_hash NAMESPACE NAME: the config hash on the Deployment's pod template, if any.
config_hash() {
  kubectl -n "$1" get "deployment/$2" -o json |
    jq -r '.spec.template.metadata.annotations["platform.bizmatters.io/config-hash"] // ""'
}

# new_config_hash NAMESPACE NAME OLD: the pod template carries a config hash (a sha256, 64 hex
# digits) other than OLD; prints the one it carries when not.
new_config_hash() {
  local hash
  hash="$(config_hash "$1" "$2")"
  [[ $hash =~ ^[0-9a-f]{64}$ && $hash != "$3" ]] || { echo "config hash: ${hash:-none}"; return 1; }
}

# report_consumer_ready NAMESPACE NAME: the Consumer's status as NACK writes it once the
# JetStream consumer exists (no NACK controller runs here).
report_consumer_ready() {
  local now generation
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  generation="$(kubectl -n "$1" get "consumer.jetstream.nats.io/$2" -o jsonpath='{.metadata.generation}')"
  kubectl -n "$1" patch "consumer.jetstream.nats.io/$2" --subresource status --type merge -p "{\"status\":{
    \"observedGeneration\":$generation,
    \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Created\",
      \"message\":\"Consumer successfully created\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null
}

# warning_events NAMESPACE RESOURCE: the Warning events on RESOURCE; on an XR, among them the
# function's Warning and Fatal results.
warning_events() {
  local uid
  uid="$(kubectl -n "$1" get "$2" -o jsonpath='{.metadata.uid}')" || return 0
  # shellcheck disable=SC2016 # jq's variable
  kubectl get events -A -o json | jq -r --arg uid "$uid" '.items[]
    | select(.involvedObject.uid == $uid and .type == "Warning") | "\(.reason): \(.message)"' | sort -u
}

# live_has NAMESPACE RESOURCE WANT: every field of the JSON WANT is on RESOURCE (subset_jq).
live_has() {
  local live
  live="$(kubectl -n "$1" get "$2" -o json)" || fail "$2 is missing"
  jq -e --argjson want "$3" "$subset_jq" <<<"$live" >/dev/null ||
    fail "$2 differs from $3: $(jq -c '{annotations: .metadata.annotations, spec}' <<<"$live")"
}

# as_claimed NAMESPACE NAME DOC: what the claim in DOC asks of its durable consumer, of KEDA's
# pause, fallback and scaling pace, and of a rollout on config changes, is on the live objects.
as_claimed() {
  local ns=$1 name=$2 doc=$3 want
  if jq -e '.spec.nats.durableConsumer != null' <<<"$doc" >/dev/null; then
    want="$(jq -c '.spec.nats as $n | $n.durableConsumer as $d
      | {spec: ({streamName: $n.stream, durableName: $n.consumer, deliverPolicy: "all",
          ackPolicy: "explicit", ackWait: ($d.ackWait // "30s"), preventDelete: true}
        + ($d | with_entries(select(.key | IN("maxDeliver", "maxAckPending", "filterSubjects", "backoff"))))
        | with_entries(select(.value != null)))}' <<<"$doc")"
    live_has "$ns" "consumer.jetstream.nats.io/$name-consumer" "$want"
    # The URL NACK connects to, unless a NACK Account holds the connection.
    if jq -e '.spec.nats.durableConsumer.accountRef == null' <<<"$doc" >/dev/null; then
      kubectl -n "$ns" get "consumer.jetstream.nats.io/$name-consumer" -o json |
        jq -e '.spec.servers | length > 0 and all(startswith("nats://"))' >/dev/null ||
        fail "consumer.jetstream.nats.io/$name-consumer names no nats:// server"
    fi
  fi
  # Fields the claim leaves unset drop out of WANT, empty objects with them.
  want="$(jq -c '.spec.scaling as $s
    | {metadata: {annotations: (if $s.paused == true then
          {"autoscaling.keda.sh/paused": "true"}
          + (if $s.pausedReplicas != null then {"autoscaling.keda.sh/paused-replicas": ($s.pausedReplicas | tostring)} else {} end)
        else {} end)},
       spec: ((if $s.fallback != null then {fallback: $s.fallback} else {} end)
         + (if $s.behavior != null then {advanced: {horizontalPodAutoscalerConfig: {behavior: $s.behavior}}} else {} end))}
    | walk(if type == "object" then with_entries(select(.value != {})) else . end)' <<<"$doc")"
  live_has "$ns" "scaledobject/$name-scaler" "$want"
  if jq -e '.spec.rolloutOnConfigChange == true' <<<"$doc" >/dev/null; then
    # Crossplane fetches the Secrets and ConfigMaps for the function before it applies anything,
    # so the first Deployment already carries the hash.
    wait_for 60 "the config hash on deployment/$name" new_config_hash "$ns" "$name" ""
  fi
}

# consumer_gates_ready NAMESPACE CLAIM CONSUMER: with the Deployment and the ScaledObject
# reported ready but not yet the Consumer, the claim is not Ready and its ConsumerReady is not
# True; once the Consumer reports Ready as NACK does, ConsumerReady turns True.
consumer_gates_ready() {
  local ns=$1 claim=$2 consumer=$3
  wait_for 120 "DeploymentAvailable on $claim" has_condition "$claim" "$ns" DeploymentAvailable True
  wait_for 120 "ScalerReady on $claim" has_condition "$claim" "$ns" ScalerReady True
  ! has_condition "$claim" "$ns" Ready True || fail "$claim is Ready before its Consumer is"
  local before
  before="$(kubectl -n "$ns" get "$claim" -o jsonpath='{.status.conditions[?(@.type=="ConsumerReady")]}')"
  [[ -n $before ]] || fail "$claim has no ConsumerReady condition"
  ! has_condition "$claim" "$ns" ConsumerReady True ||
    fail "$claim's ConsumerReady is True before its Consumer reported Ready: $before"
  report_consumer_ready "$ns" "$consumer"
  wait_for 120 "ConsumerReady True on $claim" has_condition "$claim" "$ns" ConsumerReady True
  say "  ConsumerReady before the Consumer reported Ready: $(jq -c '{status, reason}' <<<"$before"); True after"
}

# config_change_rolls NAMESPACE NAME REF: a change to the data of REF (secret/NAME or
# configmap/NAME) reaches the pod template as a new config hash. Nothing watches the objects a
# function reads: the change waits for Crossplane's next run of the function, one TTL (+10%
# jitter) after the last, then a reconcile and provider-kubernetes' apply of the Object.
config_change_rolls() {
  local ns=$1 name=$2 ref=$3 before started=$SECONDS
  before="$(config_hash "$ns" "$name")"
  put_config "$ns" "$ref" changed
  wait_for $((function_ttl * 11 / 10 + 30)) "a new config hash on deployment/$name after $ref changed" \
    new_config_hash "$ns" "$name" "$before"
  say "  a change to $ref reached the pod template's config hash in $((SECONDS - started))s"
}

# extra_check FILE WHAT COMMAND...: runs COMMAND in a subshell, where a failed wait or check ends
# only the subshell; says how it went, and keeps the failure in the extra claims' log.
extra_check() {
  local file=$1 what=$2
  shift 2
  if ("$@") 2>"$work/extra-check.err"; then
    say "extra claim $file: $what"
    return 0
  fi
  say "extra claim $file: NOT $what: $(sed '/^$/d; s/^FAILED: //' "$work/extra-check.err")"
  cat "$work/extra-check.err" >>"$logs/extra-claims.log"
  return 1
}

# extra_claim FILE: applies the claim in FILE and reports whether it composed (its objects
# exist), became Ready (after the status patches) and shows on its objects what its scaling
# fields ask for (see as_claimed, consumer_gates_ready, config_change_rolls); deletes it fully
# either way. Returns non-zero unless all three.
extra_claim() {
  local file=$1 name ns composed=no ready=no checked=yes started=$SECONDS ref
  name="$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$file")"
  ns="$(kubectl create --dry-run=client -o jsonpath='{.metadata.namespace}' -f "$file")"
  ns=${ns:-default}
  local claim="eventdrivenservice/$name"
  local objects=("deployment/$name" "serviceaccount/$name" "scaledobject/$name-scaler")
  # A Service unless turned off, a PodDisruptionBudget when asked for (no platform default here).
  local doc
  doc="$(kubectl create --dry-run=client -o json -f "$file")"
  jq -e '.spec.service.enabled != false' <<<"$doc" >/dev/null && objects+=("service/$name")
  jq -e '.spec.disruptionBudget != null and .spec.disruptionBudget.enabled != false' <<<"$doc" >/dev/null &&
    objects+=("poddisruptionbudget/$name")
  # The durable consumer, a NACK Consumer. Not among the objects whose deletion is awaited: it
  # may outlive the claim.
  local consumer="" composed_objects=("${objects[@]}")
  if jq -e '.spec.nats.durableConsumer != null' <<<"$doc" >/dev/null; then
    consumer="$name-consumer"
    composed_objects+=("consumer.jetstream.nats.io/$consumer")
  fi
  kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns" >/dev/null
  # The Secrets and ConfigMaps whose data a rollout on config changes hashes exist first, in the
  # claim's namespace. Crossplane reads them for the function with this setup's admin
  # credentials; installed by Helm, its ClusterRole grants get, list and watch on both.
  local config=()
  if jq -e '.spec.rolloutOnConfigChange == true' <<<"$doc" >/dev/null; then
    mapfile -t config < <(config_refs "$doc")
    for ref in "${config[@]}"; do put_config "$ns" "$ref" initial; done
  fi
  if ! kubectl -n "$ns" apply --server-side --field-manager developer -f "$file" >>"$logs/extra-claims.log" 2>&1; then
    say "extra claim $file: refused by the API server (see $logs/extra-claims.log)"
    return 1
  fi
  # Run in subshells: a wait that runs out fails only the subshell, and the report goes on.
  if (wait_for 120 "$file composed" kubectl -n "$ns" get "${composed_objects[@]}") 2>>"$logs/extra-claims.log"; then
    composed=yes
    extra_check "$file" "its objects show what its consumer, scaling and rollout fields ask for" \
      as_claimed "$ns" "$name" "$doc" || checked=no
    report_available "$ns" "$name"
    patch_scaler "$ns" "$name" True ScaledObjectReady "ScaledObject is ready"
    if [[ -n $consumer ]]; then
      # Failed before its status patch, the Consumer still gets one: Ready is reported apart.
      extra_check "$file" "not Ready before its Consumer reports Ready, ConsumerReady True after" \
        consumer_gates_ready "$ns" "$claim" "$consumer" ||
        { checked=no; report_consumer_ready "$ns" "$consumer" || true; }
    fi
    (wait_for 120 "$file Ready" has_condition "$claim" "$ns" Ready True) 2>>"$logs/extra-claims.log" && ready=yes
    if [[ $ready == yes && ${#config[@]} -gt 0 ]]; then
      # The last one: a ConfigMap when the pods read one (config_refs lists Secrets first).
      local changed=${config[-1]}
      extra_check "$file" "a change to $changed rolls its pods" \
        config_change_rolls "$ns" "$name" "$changed" || checked=no
    fi
  fi
  say "extra claim $file: composed=$composed ready=$ready checks=$([[ $checked == yes ]] && echo passed || echo failed) ($((SECONDS - started))s)"
  local xr=""
  [[ -z $(kubectl -n "$ns" get "$claim" -o jsonpath='{.spec.resourceRef.name}') ]] ||
    xr="$(xr_of "$ns" "$claim")"
  if [[ $composed == no || $ready == no || $checked == no ]]; then
    # The function's whole Fatal message is on the claim's XR (its Synced condition); the
    # claim carries it as SpecValid=False. Its Warning results are events on the XR.
    if [[ -n $xr ]]; then
      say "  $xr: $(kubectl -n "$ns" get "$xr" -o jsonpath='{range .status.conditions[?(@.status!="True")]}{.type}: {.message}{"\n"}{end}')"
      say "  $xr warnings: $(warning_events "$ns" "$xr")"
    fi
    kubectl -n "$ns" get "$claim" ${xr:+"$xr"} -o yaml >>"$logs/extra-claims.log" 2>&1
  fi
  if [[ -n $xr ]]; then
    delete_fully "extra claim $file" "$ns" "$claim" "${objects[@]}"
  else
    kubectl -n "$ns" delete "$claim" --timeout 120s >/dev/null
  fi
  if [[ -n $consumer ]] && kubectl -n "$ns" get "consumer.jetstream.nats.io/$consumer" >/dev/null 2>&1; then
    say "  consumer.jetstream.nats.io/$consumer outlived the claim; deleted here"
    kubectl -n "$ns" delete "consumer.jetstream.nats.io/$consumer" --timeout 60s >/dev/null
  fi
  for ref in "${config[@]}"; do kubectl -n "$ns" delete "$ref" --ignore-not-found >/dev/null; done
  [[ $composed == yes && $ready == yes && $checked == yes ]]
}

say "Live: Crossplane v1 flavour (claim), installed from the registry by Crossplane's package manager"
install_configuration event-driven-service "$XPKG_REGISTRY/configuration-event-driven-service:v0.1.0" \
  xeventdrivenservices.platform.bizmatters.io event-driven-service
live_flavour "claim" examples/minimal-claim.yaml .

# Extra claims (E2E_EXTRA_CLAIMS=DIR): each is applied, and reported as composed, Ready and
# showing what its scaling fields ask for, without editing this script.
if [[ -n ${E2E_EXTRA_CLAIMS:-} ]]; then
  extra_files=("$E2E_EXTRA_CLAIMS"/*.yaml)
  [[ -e ${extra_files[0]} ]] || fail "E2E_EXTRA_CLAIMS=$E2E_EXTRA_CLAIMS holds no *.yaml file"
  extra_failed=()
  for file in "${extra_files[@]}"; do
    extra_claim "$file" || extra_failed+=("$file")
  done
  ((${#extra_failed[@]} == 0)) ||
    fail "extra claims that did not compose, become Ready or pass their checks: ${extra_failed[*]} (see $logs/extra-claims.log)"
  pass "all ${#extra_files[@]} extra claims in $E2E_EXTRA_CLAIMS composed, became Ready and passed their checks"
fi
upgrade_with_a_ready_claim event-driven-service "$XPKG_REGISTRY/configuration-event-driven-service:v0.2.0" \
  examples/minimal-claim.yaml
uninstall_configuration event-driven-service

say "Live: Crossplane v2 flavour (namespaced XR), provider-kubernetes Objects and Direct, from the registry"
install_configuration event-driven-service-v2 "$XPKG_REGISTRY/configuration-event-driven-service-v2:v0.2.0" \
  eventdrivenservices.platform.bizmatters.io event-driven-service-objects event-driven-service-direct
kubectl apply --server-side -f "$repo/apis/v2/rbac.yaml" >/dev/null
# shellcheck disable=SC2046 # the flags are words
live_flavour "v2 Objects" examples/namespaced-xr.yaml . $(render_flags "$repo/examples/namespaced-xr.yaml")
# shellcheck disable=SC2046 # the flags are words
live_flavour "v2 Direct" examples/namespaced-direct-xr.yaml \
  '.spec.crossplane.compositionRef.name = "event-driven-service-direct"' \
  $(render_flags "$repo/examples/namespaced-direct-xr.yaml")
uninstall_configuration event-driven-service-v2
