#!/bin/sh
# Run by deploy/Dockerfile's *-deps stages: install a requirements file into /app/.venv through a
# wheelhouse in the pip cache mount (/root/.cache/pip/wheelhouse):
#   prospector-pip-install REQUIREMENTS [pip download options, e.g. --extra-index-url URL]
# `pip download` fetches only the files the wheelhouse lacks (the index is still asked, for the
# resolution), then `pip install` takes them from the wheelhouse alone. pip's own HTTP cache would
# do the same, but only for responses with cache headers, which a TLS-intercepting proxy may strip:
# then every build downloads torch again (about 3 GB).
set -eu
requirements=$1
shift
wheelhouse=/root/.cache/pip/wheelhouse
mkdir -p "$wheelhouse"
before=$(ls "$wheelhouse" | wc -l)
/app/.venv/bin/pip download --progress-bar off -q -d "$wheelhouse" "$@" -r "$requirements"
echo "pip-install: $(( $(ls "$wheelhouse" | wc -l) - before )) files downloaded, $(du -sh "$wheelhouse" | cut -f1) in the wheelhouse"
# (An sdist among them needs its build requirements from the index: then the index is asked.)
/app/.venv/bin/pip install --progress-bar off --no-index --find-links "$wheelhouse" -r "$requirements" \
    || /app/.venv/bin/pip install --progress-bar off --find-links "$wheelhouse" "$@" -r "$requirements"
