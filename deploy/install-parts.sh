#!/bin/sh
# Run by deploy/Dockerfile's *-build stages, in /app, with the sources copied and the parts'
# requirements already in /app/.venv (the *-deps stages):
#   prospector-install-parts 'bindings[puffer]' services/common ...
# installs the parts editable without the network, compiles the C engine and generates the gRPC
# code with the Makefile's own rules, compiles the bytecode (the service cannot write it), and
# leaves in /out what the runtime image takes: the sources, the files this install added to the
# virtualenv (so the image copies the requirements' layer untouched) and models/ if the
# repository has one (copied to /tmp/models by the stage).
set -eu
cd /app
touch /tmp/before-parts
sleep 1  # mtime granularity: everything installed now is strictly newer
args=""
for part in "$@"; do args="$args -e $part"; done
# shellcheck disable=SC2086
/app/.venv/bin/pip install --no-deps --no-build-isolation --no-cache-dir $args
/app/.venv/bin/pip check
# The Makefile installs the parts with their dev tools unless its install stamp is newer than the
# packaging; it is, the install above did that part.
touch /app/.venv/.prospector-installed
make build/.engine-built protos PROSPECTOR_ENGINE_ARCH="${PROSPECTOR_ENGINE_ARCH:-x86-64-v2}"
rm -rf build
find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
/app/.venv/bin/python -m compileall -q -j 0 bindings bench services > /dev/null
mkdir -p /out
tar -c --exclude=./.venv --exclude=./core_c --exclude=./deploy --exclude=./protos . | tar -C /out -x
find .venv -newer /tmp/before-parts \( -type f -o -type l \) -print0 | tar -c --null -T - | tar -C /out -x
if [ -d /tmp/models ]; then
    find /tmp/models -maxdepth 1 -name 'install-parts.sh' -delete
    if [ -n "$(ls -A /tmp/models)" ]; then mv /tmp/models /out/models; fi
fi
echo "install-parts: $(du -sh /out | cut -f1) in /out ($(find /out/.venv -type f | wc -l) files added to the virtualenv)"
