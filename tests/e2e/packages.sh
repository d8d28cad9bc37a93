# Our packages, the way a platform team gets them: built, pushed with `crossplane xpkg push` to
# a registry on loopback (`crane registry serve`, which Crossplane reaches over plain HTTP), and
# installed by Crossplane's package manager from `kind: Configuration`, which pulls our Function
# as a dependency. Sourced by live.sh; uses control-plane.sh's helpers (start, wait_for, pass,
# fail, kubectl, ...).
#
# The package manager runs, but with PACKAGE_RUNTIME=External it starts no function pod: the
# harness serves the function itself and records, on the revision Crossplane installed, where
# it listens and its server certificate, as a runtime would.
# shellcheck shell=bash disable=SC2154 # work, logs, repo, KUBECTL, ... are control-plane.sh's

# The image package/image.sh built; CI builds it before the end-to-end suite.
runtime_image="${RUNTIME_IMAGE:-$repo/target/image/runtime.tar}"
[[ -f $runtime_image ]] || fail "$runtime_image is missing: package/image.sh $runtime_image (or set RUNTIME_IMAGE)"

# The Function Crossplane creates for the dependency: its repository path as a DNS label,
# which the Compositions' functionRef names.
function_name=bizmatters-function-event-driven-service

# publish_packages: the registry, then the function package and both Configurations at
# v0.1.0, with the registry's host in dependsOn. The upgrade pushes v0.2.0 later: Crossplane
# resolves a constraint such as ">=v0.1.0" to the newest tag the registry lists, so a v0.2.0
# pushed now would be installed at once.
publish_packages() {
  local port
  port="$(free_port)"
  mkdir -p "$work/registry"
  start registry "$CRANE" registry serve --address "127.0.0.1:$port" --disk "$work/registry"
  wait_for 30 "the registry" curl -fsS "http://127.0.0.1:$port/v2/"
  XPKG_REGISTRY="127.0.0.1:$port/bizmatters"

  # The packages are built from a copy of what they read (the metadata, apis/, package/ and
  # examples/), so the registry's host can be written into dependsOn.
  mkdir -p "$work/source"
  cp -r "$repo/crossplane.yaml" "$repo/apis" "$repo/package" "$repo/examples" "$work/source/"
  sed -i "s|ghcr.io/bizmatters/|$XPKG_REGISTRY/|" "$work/source/crossplane.yaml" "$work/source/apis/v2/crossplane.yaml"
  publish_version v0.1.0
  pass "function and both Configurations v0.1.0 built and pushed with crossplane xpkg push to $XPKG_REGISTRY"
}

# publish_version VERSION: the function package at VERSION (its image labelled so, so each
# version is a package of its own) and both Configurations at VERSION, depending on the
# function >= VERSION.
publish_version() {
  local version=$1 source="$work/source"
  STATIC_BINARY="$work/runtime-binary" IMAGE_VERSION=$version CRANE="$CRANE" \
    extract_and_build_image "$work/runtime-$version.tar"
  xpkg build "function $version" --package-root=package --examples-root=examples \
    --embed-runtime-image-tarball="$work/runtime-$version.tar" --package-file="$work/function-$version.xpkg"
  xpkg push "function $version" -f "$work/function-$version.xpkg" "$XPKG_REGISTRY/function-event-driven-service:$version"

  sed -i "s|version: \">=v0\.[0-9.]*\"|version: \">=$version\"|" "$source/crossplane.yaml" "$source/apis/v2/crossplane.yaml"
  xpkg build "configuration $version" --package-root=. --examples-root=examples \
    --ignore='apis/v2/*,package/*,package/*/*,tests/*,tests/*/*,tests/*/*/*,tests/*/*/*/*,benches/*/*,.ci/*,.github/*,.github/*/*' \
    --package-file="$work/configuration-$version.xpkg"
  xpkg push "configuration $version" -f "$work/configuration-$version.xpkg" "$XPKG_REGISTRY/configuration-event-driven-service:$version"
  xpkg build "configuration v2 $version" --package-root=apis/v2 --examples-root=examples --ignore='rbac.yaml' \
    --package-file="$work/configuration-v2-$version.xpkg"
  xpkg push "configuration v2 $version" -f "$work/configuration-v2-$version.xpkg" "$XPKG_REGISTRY/configuration-event-driven-service-v2:$version"
}

# extract_and_build_image OUT.tar: the runtime image again, from the binary inside the image CI
# built, labelled with IMAGE_VERSION.
extract_and_build_image() {
  if [[ ! -x $STATIC_BINARY ]]; then
    "$CRANE" export - "$work/runtime-fs.tar" <"$runtime_image" ||
      fail "crane export of $runtime_image"
    tar -xf "$work/runtime-fs.tar" -C "$work" function-event-driven-service
    mv "$work/function-event-driven-service" "$STATIC_BINARY"
  fi
  "$repo/package/image.sh" "$1" >>"$logs/image.log" 2>&1 || fail "package/image.sh (see $logs/image.log)"
}

# xpkg LABEL build|push ARGS...: the Crossplane CLI in the package source, logged.
xpkg() {
  local label=$2 verb=$1
  shift 2
  (cd "$work/source" && "$CROSSPLANE_CLI" xpkg "$verb" "$@") >>"$logs/xpkg.log" 2>&1 ||
    fail "crossplane xpkg $verb ($label; see $logs/xpkg.log)"
}

# install_configuration NAME PACKAGE XRD COMPOSITION...: `kind: Configuration` for PACKAGE;
# waits until Crossplane has pulled it and its Function dependency, the function's revision
# is reachable, the XRD is Established and each Composition has a revision.
install_configuration() {
  local name=$1 package=$2 xrd=$3 composition since=$SECONDS
  shift 3
  kubectl apply --server-side -f - >/dev/null <<EOF
apiVersion: pkg.crossplane.io/v1
kind: Configuration
metadata:
  name: $name
spec:
  package: $package
EOF
  wait_for 180 "Configuration $name installed" \
    kubectl wait --for condition=Installed --timeout 5s "configuration/$name"
  say "  Configuration $name Installed after $((SECONDS - since))s"
  function_revision_served
  say "  Function $function_name (a dependency, $(kubectl get "function/$function_name" -o jsonpath='{.spec.package}')) served after $((SECONDS - since))s"
  wait_for 180 "the XRD $xrd from $name Established" xrd_established "$xrd" 5
  for composition in "$@"; do
    wait_for 60 "a CompositionRevision of $composition" \
      bash -c "'$KUBECTL' get compositionrevisions -l crossplane.io/composition-name=$composition -o name | grep -q ."
  done
  pass "Configuration $name from $package: Installed, its Function dependency pulled, XRD $xrd Established, Compositions $* revised ($((SECONDS - since))s)"
}

# active_function_revision: the FunctionRevision Crossplane made Active.
active_function_revision() {
  kubectl get functionrevisions -l "pkg.crossplane.io/package=$function_name" -o json |
    jq -r '.items[] | select(.spec.desiredState == "Active") | "functionrevision/" + .metadata.name'
}

# function_revision_served: the Active revision of our Function records where the function
# listens and its certificate, as a runtime would (the External runtime leaves both unset),
# and turns RevisionHealthy.
function_revision_served() {
  local revision
  wait_for 180 "an Active FunctionRevision of $function_name" bash -c "[[ -n \$('$KUBECTL' get functionrevisions -l pkg.crossplane.io/package=$function_name -o json | jq -r '.items[] | select(.spec.desiredState == \"Active\") | .metadata.name') ]]"
  revision="$(active_function_revision)"
  kubectl -n crossplane-system get secret "$function_name-tls-server" >/dev/null 2>&1 ||
    kubectl -n crossplane-system create secret generic "$function_name-tls-server" \
      --from-file tls.crt="$function_certs/tls.crt" >/dev/null
  wait_for 30 "$revision's status patched" kubectl patch "$revision" --subresource status --type merge \
    -p "{\"status\":{\"endpoint\":\"127.0.0.1:$function_port\",\"tlsServerSecretName\":\"$function_name-tls-server\"}}"
  wait_for 120 "$revision RevisionHealthy" kubectl wait --for condition=RevisionHealthy --timeout 5s "$revision"
  served_revision=$revision
}

# uninstall_configuration NAME: deletes the Configuration; Kubernetes' garbage collector
# removes the XRD and Compositions it owned, and Crossplane the XRD's CRDs.
uninstall_configuration() {
  local since=$SECONDS
  kubectl delete --timeout 120s "configuration/$1" >/dev/null
  wait_for 180 "the CRDs of $1 removed" \
    bash -c "! '$KUBECTL' get crd eventdrivenservices.platform.bizmatters.io"
  pass "Configuration $1 deleted, its XRD and CRDs gone ($((SECONDS - since))s)"
}

# upgrade_with_a_ready_claim NAME PACKAGE FILE: with the claim in FILE Ready, the Configuration
# NAME moves to PACKAGE, whose dependency asks for a newer function. Crossplane (started with
# --enable-dependency-version-upgrades: without it an installed dependency is never moved) moves
# the Function to v0.2.0 and a new Active revision; the claim is Ready throughout and after a
# reconcile through the new revision.
upgrade_with_a_ready_claim() {
  local config=$1 package=$2 file=$3 name ns claim objects before since
  name="$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$repo/$file")"
  ns="$(kubectl create --dry-run=client -o jsonpath='{.metadata.namespace}' -f "$repo/$file")"
  claim="eventdrivenservice/$name"
  objects=("deployment/$name" "service/$name" "serviceaccount/$name" "scaledobject/$name-scaler")
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl apply --server-side --field-manager developer -f "$repo/$file" >/dev/null
  wait_for 180 "upgrade: the four objects of $name" kubectl -n "$ns" get "${objects[@]}"
  local refs
  reported_ready "upgrade" "$ns" "$name" "$claim" 180

  before=$served_revision since=$SECONDS
  [[ $(kubectl get "function/$function_name" -o jsonpath='{.spec.package}') == *:v0.1.0 ]] ||
    fail "upgrade: Function $function_name not at v0.1.0 before: $(kubectl get "function/$function_name" -o jsonpath='{.spec.package}')"
  publish_version v0.2.0
  say "  function and both Configurations v0.2.0 pushed"
  kubectl patch "configuration/$config" --type merge -p "{\"spec\":{\"package\":\"$package\"}}" >/dev/null
  wait_for 240 "a FunctionRevision other than $before Active after upgrading $config" \
    bash -c "r=\$('$KUBECTL' get functionrevisions -l pkg.crossplane.io/package=$function_name -o json | jq -r '.items[] | select(.spec.desiredState == \"Active\") | \"functionrevision/\" + .metadata.name'); [[ -n \$r && \$r != '$before' ]]"
  has_condition "$claim" "$ns" Ready True || fail "upgrade: $claim not Ready while the Function moved"
  function_revision_served
  [[ $(kubectl get "function/$function_name" -o jsonpath='{.spec.package}') == *:v0.2.0 ]] ||
    fail "upgrade: Function $function_name not at v0.2.0: $(kubectl get "function/$function_name" -o jsonpath='{.spec.package}')"
  local count
  count="$(reconciles)"
  poke "$ns" "${refs[0]}"
  wait_for 60 "upgrade: a reconcile through $served_revision" reconciled_since "$count" 1
  settle "upgrade"
  has_condition "$claim" "$ns" Ready True || fail "upgrade: $claim not Ready after a reconcile through $served_revision"
  pass "Configuration $config upgraded to $package: Function $function_name moved from $before to $served_revision (v0.2.0) in $((SECONDS - since))s, $claim Ready throughout"
  delete_fully "upgrade" "$ns" "$claim" "${objects[@]}"
}
