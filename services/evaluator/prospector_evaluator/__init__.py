"""The evaluator service: windows from Redis in, tagged and cataloged replays out.

    service     the loop: consumer group, claims, catch-up, dead letters, backoff
    evaluate    one window: checkpoint, episodes on derived seeds, replay files, tags, catalog
    servicer    gRPC EvaluatorService (Status, EvaluateWindow)
    metrics     Prometheus metrics (EvaluatorMetrics)
    wandb_log   replays as W&B artifacts (never required)

    cli         `prospector evaluate` (its entry point: add_evaluate), `python -m prospector_evaluator`

The replay format (writer, readers, verify) is shared with the API and lives in
prospector_common.replay; the checkpoint format in prospector_common.policy.
"""
