# tgate's image: one binary for every role (`serve`, `api`, `watcher`,
# `worker`, the admin CLI); docker-compose.yml picks the role by command.
#
#   docker build -t tgate:latest .

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# The rust image already has libssl-dev and pkg-config, which ssh2 needs.
COPY . .
RUN cargo build --release --locked --bin tgate \
    && install -m 0755 target/release/tgate /usr/local/bin/tgate

FROM debian:bookworm-slim
# libssl3 for ssh2 and native-tls, ca-certificates for api.telegram.org,
# curl for the compose healthchecks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/tgate \
       --create-home --shell /usr/sbin/nologin tgate
COPY --from=builder /usr/local/bin/tgate /usr/local/bin/tgate
USER tgate
WORKDIR /var/lib/tgate
ENV TGATE_CONFIG=/etc/tgate/tgate.toml
EXPOSE 8080
# Only the api role serves HTTP, so the healthcheck (GET /healthz) is set per
# service in docker-compose.yml rather than here.
ENTRYPOINT ["tgate"]
CMD ["serve"]
