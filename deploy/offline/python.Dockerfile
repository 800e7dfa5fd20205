# prospector-base/python:3.11: the stand-in for python:3.11-slim-bookworm, from Debian's packages
# (bookworm's python3 is 3.11). The build stage adds the compilers and python3-dev itself.
ARG DEBIAN_IMAGE=prospector-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv ca-certificates \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
CMD ["python3"]
