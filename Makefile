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

STAMP_INSTALL := $(VENV)/.prospector-installed
STAMP_ENGINE  := $(BUILD)/.engine-built
ENGINE_DEPS   := $(C_SRC) $(C_HDR) bindings/prospector/_build_engine.py pyproject.toml setup.py

PYTEST_ARGS ?= -q -n 2

.PHONY: setup test ctest sanitize bench parity clean distclean
.SECONDARY: $(OBJ) $(SAN_OBJ)

# ---- Python environment ------------------------------------------------------

setup: $(STAMP_ENGINE)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Dependencies and the package (editable); redone when the packaging changes.
$(STAMP_INSTALL): pyproject.toml setup.py | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	touch $@

# The cffi extension, compiled with the engine flags into bindings/prospector/
# (where the editable install imports it from); redone when the engine changes.
$(STAMP_ENGINE): $(STAMP_INSTALL) $(ENGINE_DEPS)
	@mkdir -p $(BUILD)
	$(PY) bindings/prospector/_build_engine.py
	$(PY) -c "import prospector._engine"
	touch $@

# ---- tests ---------------------------------------------------------------------

test: setup
	$(MAKE) ctest
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

# ---- cleaning ----------------------------------------------------------------------

# Build products only; `distclean` also drops the virtualenv.
clean:
	rm -rf $(BUILD) bindings/prospector/_engine.c bindings/prospector/_engine.o \
		bindings/prospector/_engine*.so bindings/*.egg-info .pytest_cache
	find bindings tests -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
