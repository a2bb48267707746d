# syntax=docker/dockerfile:1
# Fogwhisk edge agent image: the fogwhisk-edge binary plus Node.js 20 and Python 3.11 for the action
# runtimes it starts as child processes. Build from the repository root:
#   docker build -f deploy/docker/edge.Dockerfile -t fogwhisk/fogwhisk-edge:0.1.0 .
# Runs as uid 0 with its store on /data (a volume), so that it can give every runtime process (action
# code) a uid of its own; it needs only SETUID, SETGID, KILL, CHOWN and FOWNER of root's capabilities.
# Drop the rest, as the Helm chart does:
#   docker run --cap-drop ALL --cap-add SETUID --cap-add SETGID --cap-add KILL --cap-add CHOWN \
#     --cap-add FOWNER --security-opt no-new-privileges --read-only --tmpfs /tmp -v site:/data fogwhisk/fogwhisk-edge:0.1.0
# Works with a read-only root file system when /tmp is writable (the chart mounts an emptyDir there).
# No USER: a non-root uid (the former 10001) cannot switch runtime processes to other uids, and the
# agent then refuses to start unless FOGWHISK_EDGE_POOL__ALLOW_SHARED_UID=true (single tenant only).

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
    && install -d -o 0 -g 0 -m 0700 /data
COPY --from=build /out/fogwhisk-edge /usr/local/bin/fogwhisk-edge
ENV FOGWHISK_EDGE_LISTEN=0.0.0.0:3233 \
    FOGWHISK_EDGE_DATA_DIR=/data \
    HOME=/tmp
VOLUME ["/data"]
EXPOSE 3233
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "fetch('http://127.0.0.1:3233/api/v1').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini reaps the runtime processes and forwards SIGTERM for a graceful shutdown.
ENTRYPOINT ["/usr/bin/tini", "--", "fogwhisk-edge"]
CMD ["serve"]
