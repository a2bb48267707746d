# syntax=docker/dockerfile:1
# Fogwhisk hub image. Build from the repository root:
#   docker build -f deploy/docker/hub.Dockerfile -t fogwhisk/fogwhisk-hub:0.1.0 .
# Runs as uid 10001 with its store, admin token file and chart archives on /data (a volume).

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p fogwhisk-hub \
    && install -D -m 0755 target/release/fogwhisk-hub /out/fogwhisk-hub

FROM debian:bookworm-slim
# Debian package versions are not pinned: bookworm only ships security fixes for them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 fogwhisk \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin fogwhisk \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /out/fogwhisk-hub /usr/local/bin/fogwhisk-hub
ENV FOGWHISK_HUB_LISTEN=0.0.0.0:8080 \
    FOGWHISK_HUB_DATA_DIR=/data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["curl", "-fsS", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["/usr/bin/tini", "--", "fogwhisk-hub"]
CMD ["serve"]
