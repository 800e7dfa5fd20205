#!/usr/bin/env bash
# A Debian base image made from the Debian mirror alone (no image registry):
#   deploy/offline/debian-base.sh SUITE IMAGE [MIRROR]
# debootstrap --variant=minbase SUITE into a temporary directory, then
# `docker import`. Does nothing when IMAGE exists already (base images are kept
# between runs; `docker rmi IMAGE` rebuilds it). MIRROR defaults to the first
# Debian URL in this machine's apt sources, else deb.debian.org. Needs root and
# debootstrap (installed from Debian's packages when missing).
set -euo pipefail
suite=${1:?suite, e.g. bookworm}
image=${2:?image name, e.g. prospector-base/debian:bookworm}
mirror=${3:-}
if docker image inspect "$image" >/dev/null 2>&1; then
    echo "debian-base: $image exists, kept"
    exit 0
fi
if [ -z "$mirror" ]; then
    mirror=$(grep -rhoE '(https?://[^ ]*/debian)/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
             | head -n 1 | tr -d ' ' || true)
    mirror=${mirror%/}
    mirror=${mirror:-http://deb.debian.org/debian}
fi
if ! command -v debootstrap >/dev/null; then  # a fresh machine: Debian's package, as make test installs chromium
    [ "$(id -u)" = 0 ] || { echo "debian-base: debootstrap is missing (apt-get install debootstrap, as root)" >&2; exit 1; }
    echo "debian-base: installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
dir=$(mktemp -d /tmp/prospector-rootfs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
start=$(date +%s)
echo "debian-base: debootstrap --variant=minbase $suite from $mirror"
debootstrap --variant=minbase "$suite" "$dir" "$mirror" > "$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; exit 1; }
rm -f "$dir.log"
# Lean image defaults: no recommends, no docs, no apt lists kept.
cat > "$dir/etc/apt/apt.conf.d/90prospector" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CONF
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb
tar -C "$dir" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' - "$image" >/dev/null
echo "debian-base: $image made in $(( $(date +%s) - start )) s"
