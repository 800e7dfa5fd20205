"""The trainer service: PufferLib's PPO (PuffeRL) over the C engine, in windows of env steps.

    cli            `prospector train` (its entry point: add_train) and `python -m prospector_trainer`
    config         TOML configs (configs/*.toml) and --set overrides; policy_kwargs
    env            the engine batch as PuffeRL sees it (reward scale, truncation, mask in obs)
    loop           the windowed PuffeRL loop (TrainingRun, train)
    duties         what every window boundary does, in order: checkpoint, metrics row, catalog,
                   W&B, the announcement on Redis
    episode_stats  episode logs of the engine batch, the window metrics row
    distributed    torchrun ranks (DDP on gloo)
    service        the service around the loop: servers, duties, status
    servicer       gRPC TrainerService
    metrics        Prometheus metrics (prospector_trainer_*)
    progress       the terminal progress bar

The policy network and checkpoint format are shared with the evaluator:
prospector_common.policy.
"""
