# prospector-base/node:20: the stand-in for node:22-bookworm-slim, from Debian trixie's packages
# (nodejs 20.19: Vite 7 needs 20.19 or newer; bookworm's 18 is too old).
ARG DEBIAN_IMAGE=prospector-base/debian:trixie
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && node --version && npm --version
CMD ["node"]
