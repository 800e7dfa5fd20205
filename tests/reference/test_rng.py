"""reference/rng.py against the C RNG (core_c/src/rng.h), draw for draw.

rng.h is all static inline, so a tiny cffi shim around it is compiled with
the engine's flags into a temp dir; the exported engine functions check the
rest (pr_next_seed is mix64; the RNG state after pr_reset counts the draws
of world generation, market and ship start).
"""

import importlib.util
import math
import pathlib
import shutil

import pytest

from prospector._engine import ffi as engine_ffi
from prospector._engine import lib
from prospector.engine import config_cdata
from prospector.reference import ReferenceEnv
from prospector.reference.rng import MASK64, Rng, mix64
from prospector.reference.step import next_seed
from prospector.spec import EnvConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]
RNG_H = ROOT / "core_c" / "src"

SHIM = """
#include "rng.h"
uint64_t shim_mix64(uint64_t z) { return pr_mix64(z); }
uint64_t shim_next(uint64_t *s) { return rng_next(s); }
double shim_uniform(uint64_t *s) { return rng_uniform(s); }
int32_t shim_below(uint64_t *s, uint32_t n) { return rng_below(s, n); }
double shim_tri(uint64_t *s) { return rng_tri(s); }
double shim_normal(uint64_t *s) { return rng_normal(s); }
double shim_exp(uint64_t *s) { return rng_exp(s); }
"""
CDEF = """
uint64_t shim_mix64(uint64_t z);
uint64_t shim_next(uint64_t *s);
double shim_uniform(uint64_t *s);
int32_t shim_below(uint64_t *s, uint32_t n);
double shim_tri(uint64_t *s);
double shim_normal(uint64_t *s);
double shim_exp(uint64_t *s);
"""


@pytest.fixture(scope="module")
def c_rng(tmp_path_factory):
    """The C RNG of rng.h, compiled like the engine (-O3 -ffp-contract=off)."""
    cffi = pytest.importorskip("cffi")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    tmp = tmp_path_factory.mktemp("rngshim")
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_prospector_rngshim", SHIM, include_dirs=[str(RNG_H)],
                   extra_compile_args=["-std=c99", "-O3", "-ffp-contract=off", "-fno-fast-math"],
                   libraries=["m"])
    so = ffi.compile(tmpdir=str(tmp))
    spec = importlib.util.spec_from_file_location("_prospector_rngshim", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ffi, mod.lib


SEEDS = [0, 1, 2, 42, 2**32 - 1, 2**63, MASK64, 0x9E3779B97F4A7C15]


def test_splitmix64_matches_the_published_sequence():
    r = Rng(0)
    assert [r.next() for _ in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_mix64_matches_pr_next_seed_of_the_engine():
    for seed in SEEDS + list(range(100)):
        assert next_seed(seed) == lib.pr_next_seed(seed)


@pytest.mark.parametrize("draw", ["next", "uniform", "tri", "normal", "exp"])
def test_every_draw_matches_c_bit_for_bit(c_rng, draw):
    ffi, clib = c_rng
    fn = getattr(clib, f"shim_{draw}")
    for seed in SEEDS:
        state = ffi.new("uint64_t *", seed)
        r = Rng(seed)
        for _ in range(2000):
            c_value = fn(state)
            py_value = getattr(r, draw)()
            if isinstance(py_value, float):
                assert math.copysign(1.0, c_value) == math.copysign(1.0, py_value)
                assert c_value.hex() == py_value.hex(), (seed, draw)
            else:
                assert c_value == py_value
            assert state[0] == r.state


def test_below_matches_c_for_small_and_large_bounds(c_rng):
    ffi, clib = c_rng
    for n in (1, 2, 6, 25, 241, 2**31 - 1, 2**32 - 1):
        state = ffi.new("uint64_t *", n)
        r = Rng(n)
        for _ in range(500):
            assert clib.shim_below(state, n) == r.below(n)
        assert state[0] == r.state


def test_mix64_matches_c(c_rng):
    _, clib = c_rng
    for z in SEEDS + [mix64(s) for s in range(200)]:
        assert clib.shim_mix64(z) == mix64(z)


@pytest.mark.parametrize("config", [EnvConfig(), EnvConfig.curriculum(1), EnvConfig(time_max=5)])
def test_reset_leaves_the_same_rng_state_world_seed_and_first_observation(config):
    env = engine_ffi.new("pr_env *")
    obs = engine_ffi.new("float[]", 260)
    for seed in SEEDS + list(range(50)):
        lib.pr_reset(env, config_cdata(config), seed)
        lib.pr_observe(env, obs)
        ref = ReferenceEnv(config, seed=seed)
        assert ref.state.rng.state == env.rng
        assert ref.state.world_seed == env.world_seed
        assert ref.observation_bytes() == bytes(engine_ffi.buffer(obs))
