# syntax=docker/dockerfile:1
# roster's container image: build with the official Rust image, run on Debian slim.
#   docker build -t roster .
#   docker run -d --name roster -p 8080:8080 -v roster-data:/data --stop-timeout 45 roster
# .ci/packaging.sh lints this file, runs the builder's cargo command, and starts the
# binary with the runtime stage's ENV and HEALTHCHECK (CI machines have no Docker engine).

# The toolchain must build Cargo.lock: parking_lot 0.13 (via diesel's r2d2) needs
# Rust 1.95, above Cargo.toml's rust-version. Both stages are Debian 12 (bookworm), so
# the binary links against the same glibc, libpq and libxmlsec1 (SAML signatures,
# through samael; bindgen needs libclang to build) it was built with.
FROM rust:1.95.0-slim-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev libxmlsec1-dev libclang-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The caches keep crates.io downloads and compiled dependencies between builds; the
# binary is copied out of the cache mount before the step ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin roster \
    && install -D -m 0755 target/release/roster /out/roster

FROM debian:12.14-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libpq5 libxmlsec1-openssl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 roster \
    && useradd --system --uid 10001 --gid roster --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin roster \
    && install -d -o roster -g roster -m 0750 /data
COPY --from=builder /out/roster /usr/local/bin/roster
# Any other setting: -e ROSTER_<KEY>=… (README, Configuration). For PostgreSQL set
# ROSTER_DATABASE_URL=postgres://…; set ROSTER_PUBLIC_URL to the address clients use.
ENV ROSTER_DATABASE_URL=sqlite:///data/roster.db \
    ROSTER_LISTEN=0.0.0.0:8080 \
    ROSTER_LOG_FORMAT=json
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8080
# SIGTERM drains (shutdown_drain_secs, 5 s) and then finishes requests in flight
# (shutdown_timeout_secs, 30 s): give the container 45 s to stop (--stop-timeout,
# stop_grace_period), or Docker kills it after its default 10 s.
STOPSIGNAL SIGTERM
# No curl in the image: bash's /dev/tcp sends GET /readyz to ROSTER_LISTEN's port on
# loopback, and only "200" in the status line is healthy (503 while the database is
# unreachable or during the drain).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "l=${ROSTER_LISTEN:-127.0.0.1:8080}; exec 3<>/dev/tcp/127.0.0.1/${l##*:} && printf 'GET /readyz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 4 _ status _ <&3 && [ \"$status\" = 200 ]"]
ENTRYPOINT ["/usr/local/bin/roster"]
CMD ["serve"]
