# syntax=docker/dockerfile:1
# The function's runtime image, for those who build with Docker. CI builds the same layout
# without a Docker engine (package/image.sh: a static binary on an empty base, put together by
# crane) and only that build is verified there. Crossplane starts the image with no arguments
# (mutual TLS from TLS_SERVER_CERTS_DIR); `crossplane render` starts it with `--insecure`.
#
#   docker build -t function-event-driven-service:dev .

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Linked statically (glibc's crt-static needs an explicit --target, so build scripts and
# proc-macros stay dynamic), the binary needs nothing from the image but itself. The cache
# mounts keep the registry and compiled dependencies between builds; the binary is copied out
# because the target directory does not outlive this step. No protoc is needed: the build
# script compiles the protos in pure Rust.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
 && cp target/x86_64-unknown-linux-gnu/release/function-event-driven-service /function-event-driven-service

# Nothing but the binary, as package/image.sh lays it out: no shell, no libc, uid 65532
# (distroless' `nonroot`).
FROM scratch
COPY --from=build --chmod=0755 /function-event-driven-service /function-event-driven-service
USER 65532:65532
EXPOSE 9443
LABEL org.opencontainers.image.title=function-event-driven-service \
      org.opencontainers.image.description="Crossplane composition function: NATS JetStream workers scaled by KEDA" \
      org.opencontainers.image.source=https://github.com/bizmatters/function-event-driven-service \
      org.opencontainers.image.licenses=Apache-2.0
ENTRYPOINT ["/function-event-driven-service"]
