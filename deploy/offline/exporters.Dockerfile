# prospector-base/exporters:1: the stand-ins for oliver006/redis_exporter and
# prometheuscommunity/postgres-exporter, Debian's packages of both (redis_exporter 1.45,
# postgres_exporter 0.11) in one image; the compose override picks the entrypoint. wget for the
# health checks.
ARG DEBIAN_IMAGE=prospector-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        prometheus-redis-exporter prometheus-postgres-exporter wget \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
USER nobody
