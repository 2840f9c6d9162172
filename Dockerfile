# mcpstorm in a container: built from this repository, run as a non-root
# user, for the segments of a test split across machines
# (deploy/kubernetes/, docs/SCALING.md).
#
#   docker build -t mcpstorm .
#   docker run --rm mcpstorm run --headless sequential --url http://server:8080/mcp
#
# Two stages: the toolchain builds, a slim runtime with the binary and the
# CA certificates (https:// servers) runs it.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# The whole tree (.dockerignore leaves out builds and installed tools):
# cargo reads every target the manifest declares.
COPY . .
RUN cargo build --release --locked --bin mcpstorm

FROM debian:bookworm-slim
# The distribution's current CA bundle, whatever its version: pinning it
# would keep a stale one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin mcpstorm
COPY --from=build /src/target/release/mcpstorm /usr/local/bin/mcpstorm
USER 10001
# The live metrics (--out prometheus=0.0.0.0:9464).
EXPOSE 9464
ENTRYPOINT ["mcpstorm"]
CMD ["--help"]
