"""The project's harness: the checks and measurements that run beside the code, never in it.

    cli         `prospector parity` and `prospector bench <target>` (entry points of the engine part)
    machine     what every benchmark shares: machine info, progress lines, medians, RSS, CPU meters
    parity      the C engine against the pure-Python reference, bit for bit
    env         `bench env`: env steps per second (C core, cffi, PufferLib, Gymnasium, reference)
    train       `bench train` (PPO throughput) and `bench learn` (PPO against the bots, held-out seeds)
    evaluator   `bench eval`: evaluating and recording one full-length episode
    api         `bench api`: play latency, saturation, WebSocket frames/s, against the floor
    api_floor   the floor: a PlayService with canned replies of the same size

It ships with the engine part (parity and `bench env` need nothing else); a
service's benchmark needs that service's part and says so when it is missing.
Benchmarks and tests sit on top and may import any part; the modules here
do so only inside the functions that need it, so at module level each imports
the standard library and the engine alone (api.py's client libraries load
lazily too), and machine, parity and env import no service at all. Free ports
come from prospector_common.net (plumbing the services share), random play and
episode loops from prospector.rollout.
"""
