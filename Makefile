# Asteroid Belt Prospector: the one entry point for set-up, tests and benchmarks.
# Every Python target runs inside .venv at the repo root (made by `make setup`).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
BUILD  := build

# Engine flags. -ffp-contract=off and no -ffast-math are part of the
# contract: the engine must match the pure-Python reference bit for bit.
CC      ?= cc
# The target CPU: native by default (same results, wider vectors); see
# bindings/prospector/_build_engine.py, which reads the same variable.
PROSPECTOR_ENGINE_ARCH ?= native
export PROSPECTOR_ENGINE_ARCH
CFLAGS  := -std=c99 -O3 -march=$(PROSPECTOR_ENGINE_ARCH) -ffp-contract=off -fno-fast-math -Wall -Wextra -pthread -Icore_c/include
LDLIBS  := -lm -pthread
SANFLAGS := -std=c99 -g -O1 -ffp-contract=off -fno-fast-math -Wall -Wextra -pthread -Icore_c/include \
            -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

C_SRC   := $(wildcard core_c/src/*.c)
C_HDR   := $(wildcard core_c/include/*.h core_c/src/*.h)
C_TESTS := $(wildcard core_c/tests/test_*.c)
C_FUZZ  := $(wildcard core_c/tests/fuzz_*.c)
C_THDR  := $(wildcard core_c/tests/*.h)

OBJ     := $(patsubst core_c/src/%.c,$(BUILD)/obj/%.o,$(C_SRC))
SAN_OBJ := $(patsubst core_c/src/%.c,$(BUILD)/san/obj/%.o,$(C_SRC))
TEST_BIN     := $(patsubst core_c/tests/%.c,$(BUILD)/ctest/%,$(C_TESTS))
SAN_TEST_BIN := $(patsubst core_c/tests/%.c,$(BUILD)/san/%,$(C_TESTS) $(C_FUZZ))

# The project's parts, each an installable distribution with its own pyproject.toml
# (README: "Layout"); `make setup` installs them all, editable, with the dev tools.
PARTS         := bindings services/common services/rpc services/trainer services/evaluator services/api services/stack
PART_FILES    := $(addsuffix /pyproject.toml,$(PARTS)) bindings/setup.py
STAMP_INSTALL := $(VENV)/.prospector-installed
STAMP_ENGINE  := $(BUILD)/.engine-built
ENGINE_DEPS   := $(C_SRC) $(C_HDR) bindings/prospector/_build_engine.py $(PART_FILES)
# protos: gRPC/protobuf Python code generated from protos/*.proto (gitignored).
PROTO_SRC    := $(wildcard protos/*.proto)
PROTO_GEN    := services/rpc/prospector_rpc/gen
STAMP_PROTOS := $(PROTO_GEN)/.protos-built

PYTEST_ARGS ?= -q -n 2

.PHONY: setup test ctest sanitize bench bench-api parity clean distclean loadgen
.PHONY: protos  # protos
.PHONY: web bench-web  # the web page
.PHONY: up status chaos  # the whole stack
.SECONDARY: $(OBJ) $(SAN_OBJ)

# ---- Python environment ------------------------------------------------------

setup: $(STAMP_ENGINE) $(STAMP_PROTOS)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Every part (editable) with its extras, and the dev tools; redone when the packaging changes.
$(STAMP_INSTALL): $(PART_FILES) requirements-dev.txt | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install -e 'bindings[puffer]' -e 'services/common[policy]' -e 'services/rpc[build]' \
		-e services/trainer -e services/evaluator -e services/api -e services/stack -r requirements-dev.txt
	touch $@

# The cffi extension, compiled with the engine flags into bindings/prospector/
# (where the editable install imports it from); redone when the engine changes.
$(STAMP_ENGINE): $(STAMP_INSTALL) $(ENGINE_DEPS)
	@mkdir -p $(BUILD)
	$(PY) bindings/prospector/_build_engine.py
	$(PY) -c "import prospector._engine"
	touch $@

# protos: generate the Python messages, stubs and type stubs; redone when a .proto
# (or the installed grpcio-tools) changes. protoc writes `import prospector_pb2`
# in the *_grpc.py files; sed makes those imports package-relative.
protos: $(STAMP_PROTOS)

$(STAMP_PROTOS): $(PROTO_SRC) $(STAMP_INSTALL)
	rm -rf $(PROTO_GEN) && mkdir -p $(PROTO_GEN)
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=$(PROTO_GEN) --grpc_python_out=$(PROTO_GEN) \
		--pyi_out=$(PROTO_GEN) $(PROTO_SRC)
	sed -i -E 's/^import ([A-Za-z0-9_]+_pb2) as /from . import \1 as /' $(PROTO_GEN)/*.py $(PROTO_GEN)/*.pyi
	echo '"""Generated from protos/ by make setup: do not edit, do not commit."""' > $(PROTO_GEN)/__init__.py
	PYTHONPATH=services/rpc $(PY) -c "import prospector_rpc.gen.prospector_pb2_grpc"
	touch $@

# ---- tests ---------------------------------------------------------------------

# `make test` needs no system packages but Chromium (`make web`); the native load generator of
# `make bench-api` is not built here (its tests skip without it; .ci/run builds it first).
test: setup web
	$(MAKE) ctest
	$(MAKE) alerts
	cd $(WEB) && npm test
	$(PY) -m pytest $(PYTEST_ARGS)

ctest: $(TEST_BIN)
	@if [ -z "$(strip $(C_TESTS))" ]; then echo "ctest: no core_c/tests/test_*.c yet, skipping"; fi
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; ./$$t; done

sanitize: $(SAN_TEST_BIN)
	@if [ -z "$(strip $(C_TESTS) $(C_FUZZ))" ]; then echo "sanitize: no C tests or fuzzers yet, skipping"; fi
	@set -e; for t in $(SAN_TEST_BIN); do echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./$$t; done

$(BUILD)/obj/%.o: core_c/src/%.c $(C_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/ctest/%: core_c/tests/%.c $(OBJ) $(C_HDR) $(C_THDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore_c/src $< $(OBJ) -o $@ $(LDLIBS)

$(BUILD)/san/obj/%.o: core_c/src/%.c $(C_HDR)
	@mkdir -p $(@D)
	$(CC) $(SANFLAGS) -c $< -o $@

$(BUILD)/san/%: core_c/tests/%.c $(SAN_OBJ) $(C_HDR) $(C_THDR)
	@mkdir -p $(@D)
	$(CC) $(SANFLAGS) -Icore_c/src $< $(SAN_OBJ) -o $@ $(LDLIBS)

# ---- the web page (services/web) -------------------------------------------------------

# `make web`: node_modules from package-lock.json (npm ci, redone when the lock changes),
# then the static build in services/web/dist (redone when a source changes), which the
# API serves at /. The end-to-end tests drive Debian's chromium, installed here if missing.
# (package.json pins rollup with `overrides` to a release whose native packages the registry
# has for every platform: npm ci checks the lock against all of them.)
WEB          := services/web
WEB_SRC      := $(shell find $(WEB)/src -type f 2>/dev/null) $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json
STAMP_NPM    := $(WEB)/node_modules/.npm-installed
CHROMIUM     := /usr/bin/chromium

web: $(WEB)/dist/index.html $(CHROMIUM)

$(STAMP_NPM): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@

$(WEB)/dist/index.html: $(STAMP_NPM) $(WEB_SRC)
	cd $(WEB) && npm run build

$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# Bundle size, time to first frame, and 60 fps playback of a 20000-tick replay (medians).
bench-web: setup web
	$(PY) $(WEB)/scripts/measure.py

# ---- the whole stack ---------------------------------------------------------------------

# `make up`: the docker-compose.yml services as local processes (services/stack):
# its own Redis unless REDIS_URL is set, SQLite unless DATABASE_URL is set, the
# demo trainer config unless PROSPECTOR_TRAIN_CONFIG says otherwise; Ctrl-C stops
# it all. `make status`: one table of every service's health. `make chaos`: the
# fault run (kill the evaluator, restart Redis and the API; nothing is lost).
UP_ARGS ?=

up: setup $(WEB)/dist/index.html
	$(VENV)/bin/prospector up $(UP_ARGS)

status: setup
	$(VENV)/bin/prospector status

chaos: setup
	$(PY) -m pytest -q -m chaos tests/stack

# ---- benchmarks and parity -------------------------------------------------------

# The engine alone (c_core_sps), built with the engine flags; `prospector bench env`
# runs it side by side with the Python-side figures.
BENCH_CORE := $(BUILD)/bench_core

$(BENCH_CORE): core_c/bench/bench_core.c $(C_SRC) $(C_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore_c/src core_c/bench/bench_core.c $(C_SRC) -o $@ $(LDLIBS)

bench: setup $(BENCH_CORE)
	$(VENV)/bin/prospector bench env

parity: setup
	$(VENV)/bin/prospector parity --seeds 0:500

# The API under load (`prospector bench api`): HTTP from Python, gRPC from the native
# load generator below, against `prospector api --workers 2` on loopback.
bench-api: setup loadgen
	$(VENV)/bin/prospector bench api

# ---- the native gRPC load generator (bench/loadgen) -----------------------

# `make loadgen`: build/grpc_loadgen, a C++ client that plays PlayService the way
# `prospector bench api` does, at a fraction of the Python client's CPU, so the
# cores go to the server under test. Debian's grpc++ and protoc, installed here if
# missing; C++ code generated from the .proto into build/loadgen/gen (redone when
# the .proto changes; one protoc run writes all four files).
LOADGEN     := $(BUILD)/grpc_loadgen
LOADGEN_GEN := $(BUILD)/loadgen/gen
GRPC_PLUGIN := /usr/bin/grpc_cpp_plugin

loadgen: $(LOADGEN)

$(GRPC_PLUGIN):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
		libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler pkg-config

$(LOADGEN_GEN)/prospector.grpc.pb.cc: protos/prospector.proto $(GRPC_PLUGIN)
	rm -rf $(LOADGEN_GEN) && mkdir -p $(LOADGEN_GEN)
	protoc -Iprotos --cpp_out=$(LOADGEN_GEN) --grpc_out=$(LOADGEN_GEN) \
		--plugin=protoc-gen-grpc=$(GRPC_PLUGIN) protos/prospector.proto

$(LOADGEN): bench/loadgen/grpc_loadgen.cc $(LOADGEN_GEN)/prospector.grpc.pb.cc
	g++ -O2 -std=c++17 -I$(LOADGEN_GEN) $< $(LOADGEN_GEN)/prospector.pb.cc $(LOADGEN_GEN)/prospector.grpc.pb.cc \
		-o $@ $$(pkg-config --cflags --libs grpc++ protobuf)

# ---- cleaning ----------------------------------------------------------------------

# Build products only; `distclean` also drops the virtualenv.
clean:
	rm -rf $(BUILD) bindings/prospector/_engine.c bindings/prospector/_engine.o \
		bindings/prospector/_engine*.so bindings/*.egg-info services/*/*.egg-info .pytest_cache
	rm -rf $(PROTO_GEN)  # protos
	find bindings bench services tests -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

# ---- containers (deploy/, docker-compose*.yml) --------------------------------------------------

# `make images`: one image per service (api, trainer, evaluator) from deploy/Dockerfile, on the
# official python and node images (Docker Hub). `make images-offline`: the same from Debian-built
# base images, plus the infra images (Redis, PostgreSQL, Prometheus, exporters), from Debian's
# mirror, PyPI and npm alone: no image registry (run with docker-compose.offline.yml).
# Base images are kept between runs (`docker rmi prospector-base/...` rebuilds one).
# `make test-compose`: the stack built and run in containers, checked (tests/compose/); it starts
# the engine and installs Compose v2 first when it can (deploy/docker-engine.sh).
# `make alerts`: the Prometheus alert rules checked and unit-tested with promtool (in `make test`).
# The host's own CA certificates (a TLS-intercepting proxy) are copied to the git-ignored
# deploy/ca-certificates/ for the downloads of the builds (PROSPECTOR_EXTRA_CA=none: not).
DOCKER          ?= docker
COMPOSE_OFFLINE := docker compose -f docker-compose.yml -f docker-compose.offline.yml
PROSPECTOR_EXTRA_CA ?= $(wildcard /usr/local/share/ca-certificates/*.crt)
PROSPECTOR_GIT_SHA  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
IMAGE_BUILD_ARGS    := --build-arg PROSPECTOR_GIT_SHA=$(PROSPECTOR_GIT_SHA)
OFFLINE_BUILD_ARGS  := --build-arg PYTHON_IMAGE=prospector-base/python:3.11 --build-arg NODE_IMAGE=prospector-base/node:20
# name:tag of each Debian-built base image <- its Dockerfile in deploy/offline (FROM the debootstrapped suite)
OFFLINE_BASES   := python:3.11 node:20 redis:7 postgres:15 prometheus:2 exporters:1
PROMTOOL        := /usr/bin/promtool
COMPOSE_TEST_ARGS ?= -v
# BuildKit's cache kept after `make images` (the newest first): the trainer's requirements layer
# (7.4 GB) and pip's wheelhouse (3.9 GB) must fit, or the next build downloads and installs torch again.
BUILD_CACHE_KEEP  ?= 20GB

.PHONY: images images-offline offline-bases docker-engine ca-certificates alerts test-compose

docker-engine:
	bash deploy/docker-engine.sh

ca-certificates:
	@if [ "$(PROSPECTOR_EXTRA_CA)" != none ]; then for crt in $(PROSPECTOR_EXTRA_CA); do \
		cmp -s "$$crt" "deploy/ca-certificates/$$(basename "$$crt")" || cp "$$crt" deploy/ca-certificates/; done; fi

images: docker-engine ca-certificates
	@start=$$(date +%s); set -e; for target in api trainer evaluator; do \
		$(DOCKER) build -f deploy/Dockerfile --target $$target $(IMAGE_BUILD_ARGS) $(IMAGE_ARGS) \
			-t asteroid-belt-prospector-$$target:$${PROSPECTOR_IMAGE_TAG:-latest} . ; done; \
	echo "images: built in $$(( $$(date +%s) - start )) s"; \
	$(DOCKER) image prune -f --filter label=org.opencontainers.image.vendor=asteroid-belt-prospector >/dev/null; \
	$(DOCKER) builder prune -f --keep-storage $(BUILD_CACHE_KEEP) >/dev/null; \
	$(DOCKER) image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^asteroid-belt-prospector-'

offline-bases: docker-engine
	bash deploy/offline/debian-base.sh bookworm prospector-base/debian:bookworm
	bash deploy/offline/debian-base.sh trixie prospector-base/debian:trixie
	@set -e; for base in $(OFFLINE_BASES); do \
		if $(DOCKER) image inspect prospector-base/$$base >/dev/null 2>&1; then echo "offline-bases: prospector-base/$$base exists, kept"; \
		else start=$$(date +%s); $(DOCKER) build -q -f deploy/offline/$${base%%:*}.Dockerfile -t prospector-base/$$base deploy/offline >/dev/null; \
			echo "offline-bases: prospector-base/$$base made in $$(( $$(date +%s) - start )) s"; fi; done

images-offline: offline-bases ca-certificates
	$(MAKE) images IMAGE_ARGS="$(OFFLINE_BUILD_ARGS)"

alerts: $(PROMTOOL)
	$(PROMTOOL) check config deploy/prometheus.yml
	cd deploy && $(PROMTOOL) test rules prometheus-alerts.test.yml

$(PROMTOOL):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus

# the one test of `make test` that needs Compose v2 (skipped there where it is missing)
COMPOSE_CLI_TEST := tests/stack/test_compose.py::test_the_compose_files_convert_to_a_stack_swarm_accepts

# The stack in containers, from the offline images (this machine reaches no image registry),
# checked by tests/compose/ and COMPOSE_CLI_TEST (about 10 minutes warm; the first build downloads torch).
# The engine is stopped at the end only when this run started it (build/dockerd.pid;
# PROSPECTOR_KEEP_DOCKERD=1 keeps it); its images stay on disk for the next run.
test-compose: setup images-offline
	@start=$$(date +%s); rc=0; PROSPECTOR_COMPOSE_TESTS=1 $(PY) -m pytest -p no:xdist -p no:cacheprovider \
		$(COMPOSE_TEST_ARGS) tests/compose $(COMPOSE_CLI_TEST) || rc=$$?; \
	echo "test-compose: the tests took $$(( $$(date +%s) - start )) s"; \
	if [ -z "$$PROSPECTOR_KEEP_DOCKERD" ]; then bash deploy/docker-engine.sh --stop; fi; exit $$rc

# ---- Swarm (docker stack deploy) ----------------------------------------------------------------

# `make swarm-registry`: Debian's docker-registry on this host (PROSPECTOR_REGISTRY, default
# 127.0.0.1:5000; its PID in build/registry.pid, its blobs kept in /var/lib/prospector-registry).
# `make swarm-push`: the service images into it (SWARM_PUSH_OFFLINE=1: the Debian-built infra
# images too). `make swarm-deploy`: a single-node swarm when this engine is in none, then the stack
# `prospector` from docker-compose.yml + docker-compose.swarm.yml (+ SWARM_FILES), converted for the
# Swarm by deploy/swarm_stack.py. `make test-swarm`: all of it, checked (tests/compose/test_swarm.py).
PROSPECTOR_REGISTRY ?= 127.0.0.1:5000
export PROSPECTOR_REGISTRY
REGISTRY_BIN    := /usr/bin/docker-registry
SWARM_STACK     ?= prospector
SWARM_FILES     ?= docker-compose.yml docker-compose.swarm.yml
SWARM_PUSH_OFFLINE ?=
# No IPVS in the kernel (dockerd: "Native loadbalancing will not work"): no virtual IPs, no routing
# mesh; deploy/swarm_stack.py --no-ipvs then resolves services to their tasks and publishes on hosts.
SWARM_NO_IPVS   ?= $(shell [ -d /sys/module/ip_vs ] || echo 1)

.PHONY: swarm-registry swarm-push swarm-deploy swarm-rm test-swarm

$(REGISTRY_BIN):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry

swarm-registry: $(REGISTRY_BIN)
	@if curl -fsS -o /dev/null http://$(PROSPECTOR_REGISTRY)/v2/; then echo "swarm-registry: $(PROSPECTOR_REGISTRY) answers"; \
	else mkdir -p build && REGISTRY_HTTP_ADDR=$(PROSPECTOR_REGISTRY) nohup $(REGISTRY_BIN) serve deploy/registry.yml \
		> build/registry.log 2>&1 & echo $$! > build/registry.pid; \
		for i in $$(seq 50); do curl -fsS -o /dev/null http://$(PROSPECTOR_REGISTRY)/v2/ && break; sleep 0.2; done; \
		curl -fsS -o /dev/null http://$(PROSPECTOR_REGISTRY)/v2/ || { cat build/registry.log; exit 1; }; \
		echo "swarm-registry: started on $(PROSPECTOR_REGISTRY), pid $$(cat build/registry.pid)"; fi

swarm-push: swarm-registry
	@set -e; tag=$${PROSPECTOR_IMAGE_TAG:-latest}; start=$$(date +%s); \
	images="asteroid-belt-prospector-api:$$tag asteroid-belt-prospector-trainer:$$tag asteroid-belt-prospector-evaluator:$$tag"; \
	if [ -n "$(SWARM_PUSH_OFFLINE)" ]; then for b in $(OFFLINE_BASES); do images="$$images prospector-base/$$b"; done; fi; \
	for image in $$images; do $(DOCKER) tag $$image $(PROSPECTOR_REGISTRY)/$$image; \
		$(DOCKER) push -q $(PROSPECTOR_REGISTRY)/$$image; done; \
	echo "swarm-push: pushed in $$(( $$(date +%s) - start )) s"

swarm-deploy:
	@if [ "$$($(DOCKER) info --format '{{.Swarm.LocalNodeState}}')" != active ]; then \
		addr=$$(hostname -I 2>/dev/null | awk '{print $$1}'); \
		$(DOCKER) swarm init --advertise-addr $${SWARM_ADVERTISE_ADDR:-$${addr:-127.0.0.1}} >/dev/null \
			&& echo "swarm-deploy: this engine is now a single-node swarm (docker swarm leave --force undoes it)"; fi
	@mkdir -p build
	$(PYTHON) deploy/swarm_stack.py $(SWARM_FILES) $(if $(SWARM_NO_IPVS),--no-ipvs) > build/swarm-stack.yml
	$(DOCKER) stack deploy --resolve-image never -c build/swarm-stack.yml $(SWARM_STACK)

swarm-rm:
	$(DOCKER) stack rm $(SWARM_STACK)

# The stack on a single-node swarm from the local registry (the offline images), checked. Leaves
# the swarm at the end when the engine was in none.
test-swarm: setup images-offline swarm-registry
	PROSPECTOR_COMPOSE_TESTS=1 PROSPECTOR_SWARM_TESTS=1 SWARM_PUSH_OFFLINE=1 \
		$(PY) -m pytest -p no:xdist -p no:cacheprovider $(COMPOSE_TEST_ARGS) tests/compose/test_swarm.py
