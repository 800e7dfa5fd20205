"""The evaluator service: windows from Redis in, tagged and cataloged replays out.

    service     the loop: consumer group, claims, catch-up, dead letters, backoff
    evaluate    one window: checkpoint, episodes on derived seeds, replay files, tags, catalog
    replay      the replay file format: writer, readers (header, frames), verify
    servicer    gRPC EvaluatorService (Status, EvaluateWindow)
    metrics     Prometheus metrics (EvaluatorMetrics)
    wandb_log   replays as W&B artifacts (never required)
    bench       `prospector bench eval`

Entry points: `evaluate_main`, `replay_verify_main`, `bench_eval_main`
(argparse namespaces from the matching `add_*_arguments` in cli.py), and
`python -m prospector_evaluator` (the service).
"""


def evaluate_main(args):
    from .cli import evaluate_main as f

    return f(args)


def replay_verify_main(args):
    from .cli import replay_verify_main as f

    return f(args)


def bench_eval_main(args):
    from .cli import bench_eval_main as f

    return f(args)
