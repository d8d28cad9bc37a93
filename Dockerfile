# syntax=docker/dockerfile:1
# The function's runtime image. Crossplane starts it with no arguments (mutual TLS from
# TLS_SERVER_CERTS_DIR); `crossplane render` starts it with the single argument `--insecure`.
#
#   docker build -t function-event-driven-service:dev .

# Debian 12 matches the distroless runtime below, so the binary links against the same glibc.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and compiled dependencies between builds; the binary is
# copied out because the target directory does not outlive this step. No protoc is needed: the
# build script compiles the protos in pure Rust.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && cp target/release/function-event-driven-service /function-event-driven-service

# glibc and libgcc only, no shell; the `nonroot` tag runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /function-event-driven-service /function-event-driven-service
USER nonroot:nonroot
EXPOSE 9443
ENTRYPOINT ["/function-event-driven-service"]
