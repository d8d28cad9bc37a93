#!/usr/bin/env bash
# Builds the function's runtime image without a Docker engine: a statically linked release
# binary laid on an empty base with crane, written as a `docker save`-style tarball, which
# `crossplane xpkg build --embed-runtime-image-tarball` embeds and `crane push` publishes.
# The Dockerfile builds the same layout for those who use Docker.
#
# Usage: package/image.sh OUT.tar
# Environment:
#   CRANE            crane (default: the pinned one tests/e2e/tools/build.sh caches)
#   IMAGE_VERSION    the org.opencontainers.image.version label (default: Cargo.toml's version)
#   IMAGE_REVISION   the org.opencontainers.image.revision label (default: git rev-parse HEAD)
#   STATIC_BINARY    an already built static binary (default: build it here with cargo)
#
# crane edits an image's config only in a registry, so the image is assembled in a private
# in-memory registry on loopback that lives as long as this script.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/tools/versions.sh
source "$repo/tests/e2e/tools/versions.sh"
out="${1:?usage: package/image.sh OUT.tar}"
crane="${CRANE:-$(tool_path crane)}"
[[ -x $crane ]] || { echo "image.sh: $crane is missing: tests/e2e/tools/build.sh crane" >&2; exit 1; }

# The binary Crossplane runs as the image's entrypoint, at the path the Dockerfile uses.
entrypoint=/function-event-driven-service
target=x86_64-unknown-linux-gnu
if [[ -n ${STATIC_BINARY:-} ]]; then
  binary=$STATIC_BINARY
else
  # glibc's static libc needs an explicit --target: with it, RUSTFLAGS reach only the target's
  # crates, not the build scripts and proc-macros, which must stay dynamic.
  (cd "$repo" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$target")
  target_dir="$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  binary="$target_dir/$target/release/function-event-driven-service"
fi
# An image without a libc only runs a binary that needs no loader.
if readelf --program-headers "$binary" | grep -q INTERP; then
  echo "image.sh: $binary is dynamically linked; build it with -C target-feature=+crt-static" >&2
  exit 1
fi

work="$(mktemp -d)"
registry_pid=""
cleanup() {
  local rc=$?
  # The registry's own exit status (SIGTERM) is not the script's.
  [[ -z $registry_pid ]] || { kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; }
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# One layer holding the binary, owned by root and dated at the epoch, so the same binary
# always gives the same layer digest.
mkdir -p "$work/root"
install -m 0755 "$binary" "$work/root${entrypoint}"
tar --create --file "$work/layer.tar" --directory "$work/root" --sort=name \
  --owner=0 --group=0 --numeric-owner --mtime=@0 "${entrypoint#/}"

mkdir -p "$(dirname "$out")"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$crane" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
  kill -0 "$registry_pid" 2>/dev/null || { cat "$work/registry.log" >&2; exit 1; }
  sleep 0.1
done
ref="127.0.0.1:$port/function-event-driven-service-runtime:build"

version="${IMAGE_VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)}"
revision="${IMAGE_REVISION:-$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)}"
"$crane" append --oci-empty-base --new_layer "$work/layer.tar" --new_tag "$ref" >/dev/null 2>"$work/append.log" ||
  { cat "$work/append.log" >&2; exit 1; }
# Crossplane starts the image with no arguments; 65532 is distroless' `nonroot`, which the
# Dockerfile's image runs as too.
"$crane" mutate "$ref" --output "$out" \
  --entrypoint "$entrypoint" --user 65532:65532 --exposed-ports 9443/tcp \
  --set-platform linux/amd64 \
  --label org.opencontainers.image.title=function-event-driven-service \
  --label org.opencontainers.image.description="Crossplane composition function: NATS JetStream workers scaled by KEDA" \
  --label org.opencontainers.image.source=https://github.com/bizmatters/function-event-driven-service \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" >/dev/null
printf '%s: %s bytes (binary %s bytes)\n' "$out" "$(stat -c %s "$out")" "$(stat -c %s "$binary")"
