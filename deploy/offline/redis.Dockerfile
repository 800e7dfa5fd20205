# prospector-base/redis:7: the stand-in for redis:7-alpine, Debian's redis-server (7.0) running as
# the redis user in /data. Debian builds it with protected mode on: the compose override passes
# --protected-mode no so that the other containers may connect (the compose network is private).
ARG DEBIAN_IMAGE=prospector-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && mkdir -p /data && chown redis:redis /data
WORKDIR /data
VOLUME ["/data"]
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
