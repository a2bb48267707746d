# syntax=docker/dockerfile:1
# Fogwhisk edge agent image: the fogwhisk-edge binary plus Node.js 20 and Python 3.11 for the action
# runtimes it starts as child processes. Build from the repository root:
#   docker build -f deploy/docker/edge.Dockerfile -t fogwhisk/fogwhisk-edge:0.1.0 .
# Runs as uid 10001 with its store on /data (a volume); works with a read-only root file system
# when /tmp is writable (the chart mounts an emptyDir there).

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p fogwhisk-edge \
    && install -D -m 0755 target/release/fogwhisk-edge /out/fogwhisk-edge

# node:20 on Debian bookworm: Node.js 20 from the base image, Python 3.11 from Debian.
FROM node:20-bookworm-slim
# Debian package versions are not pinned: bookworm only ships security fixes for them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 fogwhisk \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin fogwhisk \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /out/fogwhisk-edge /usr/local/bin/fogwhisk-edge
ENV FOGWHISK_EDGE_LISTEN=0.0.0.0:3233 \
    FOGWHISK_EDGE_DATA_DIR=/data \
    HOME=/tmp
USER 10001:10001
VOLUME ["/data"]
EXPOSE 3233
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "fetch('http://127.0.0.1:3233/api/v1').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini reaps the runtime processes and forwards SIGTERM for a graceful shutdown.
ENTRYPOINT ["/usr/bin/tini", "--", "fogwhisk-edge"]
CMD ["serve"]
