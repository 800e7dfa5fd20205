#!/usr/bin/env bash
# Make sure a Docker engine, Compose v2 (`docker compose`) and buildx answer here:
#   deploy/docker-engine.sh            # prints what it did; exit 1 when it cannot
# - the engine: when `docker info` fails, start dockerd in the background (Debian's docker.io,
#   apt-installed first when dockerd is missing and we are root); its PID goes to
#   build/dockerd.pid, so whoever started it can stop it (`deploy/docker-engine.sh --stop`);
# - Compose v2 and buildx: Debian 12 packages only Compose 1.29, which cannot read
#   docker-compose.yml. Debian 13 (trixie)'s docker-compose and docker-buildx packages need only
#   libc6 >= 2.34 and install on Debian 12: fetched from the Debian mirror of apt's sources and
#   installed with dpkg when `docker compose version` / `docker buildx version` fail.
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE=build/dockerd.pid
COMPOSE_DEB=${PROSPECTOR_COMPOSE_DEB:-docker-compose/docker-compose_2.26.1-4_amd64.deb}
BUILDX_DEB=${PROSPECTOR_BUILDX_DEB:-docker-buildx/docker-buildx_0.13.1+ds1-3_amd64.deb}

say() { echo "docker-engine: $*"; }

if [ "${1:-}" = "--stop" ]; then
    if [ -f "$PIDFILE" ]; then
        pid=$(cat "$PIDFILE")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            say "stopped the dockerd it started (pid $pid)"
        fi
        rm -f "$PIDFILE"
    fi
    exit 0
fi

mirror() {
    local m
    m=$(grep -rhoE '(https?://[^ ]*/debian)/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | head -n 1 | tr -d ' ' || true)
    m=${m%/}
    echo "${m:-http://deb.debian.org/debian}"
}

need_root() {
    if [ "$(id -u)" != 0 ]; then
        say "$1 needs root (run as root, or install it yourself)" >&2
        exit 1
    fi
}

fetch_deb() {  # fetch_deb pool/main/d/PATH
    local url tmp
    url="$(mirror)/pool/main/d/$1"
    tmp=$(mktemp -d)
    say "installing $(basename "$1") from $url"
    curl -fsSL -o "$tmp/$(basename "$1")" "$url"
    dpkg -i "$tmp/$(basename "$1")" >/dev/null
    rm -rf "$tmp"
}

# 1. The engine.
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null; then
        need_root "installing docker.io"
        say "apt-get install docker.io"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    fi
    if ! docker info >/dev/null 2>&1; then
        need_root "starting dockerd"
        mkdir -p build
        say "starting dockerd (log: build/dockerd.log)"
        nohup dockerd > build/dockerd.log 2>&1 &
        echo $! > "$PIDFILE"
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
        docker info >/dev/null 2>&1 || { tail -n 20 build/dockerd.log >&2; say "dockerd did not come up" >&2; exit 1; }
        say "dockerd running, pid $(cat "$PIDFILE")"
    fi
fi

# 2. Compose v2 and buildx (the docker CLI's plugins).
if ! docker compose version >/dev/null 2>&1; then
    need_root "installing Compose v2"
    fetch_deb "$COMPOSE_DEB"
fi
if ! docker buildx version >/dev/null 2>&1; then
    need_root "installing buildx"
    fetch_deb "$BUILDX_DEB"
fi
say "$(docker version --format 'engine {{.Server.Version}}, client {{.Client.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /'), buildx $(docker buildx version | awk '{print $2}')"
