"""Asteroid Belt Prospector: the engine part (prospector-engine), which stands alone.

    engine      Engine (one game) and Batch (many games per C call) over the C engine (cffi)
    spec        the frozen contract: 260 observations, 69 actions, EnvConfig, curriculum stages
    gym_env     ProspectorGymEnv, registered as "Prospector-v0"
    gym_vector  ProspectorVectorEnv, its native vector env (gymnasium.make_vec): one C batch
    render      text and RGB pictures of a render state (numpy only); gif: animated GIFs of them
    puffer_env  ProspectorPufferEnv, PufferLib's native vector env (the `puffer` extra)
    reference/  the pure-Python reference engine, one module per C system
    bots        the baseline bots; `prospector bots`
    rollout     play an agent to an episode's end; random valid actions
    cli         the `prospector` command: each part's subcommands, found through entry points

Nothing here imports another part of the project. Its checks and benchmarks
(parity, bench) are the harness, `prospector_bench`, installed beside it.
"""
