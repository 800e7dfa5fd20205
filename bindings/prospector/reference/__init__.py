"""Pure-Python reference of the C engine, one module per C system.

    rng.py      core_c/src/rng.h       splitmix64 and its draws
    tuning.py   core_c/src/tuning.h    the tuning knobs
    state.py    prospector.h structs   pr_env and its parts
    engine.py   core_c/src/engine.h    shared helpers (clamps, quantization)
    world.py    world.c                graph, lazy asteroid truth
    market.py   market.c
    scan.py     scan.c
    mining.py   mining.c
    threats.py  threats.c
    station.py  station.c
    reward.py   reward.c
    observe.py  observe.c              observation and action mask
    step.py     step.c                 reset, the step, episode metrics
    env.py      ReferenceEnv           the Engine-like class

It agrees with the engine bit for bit; `prospector parity` checks that.
"""

from prospector.reference.env import ReferenceEnv

__all__ = ["ReferenceEnv"]
