"""The trainer service: PufferLib's PPO (PuffeRL) over the C engine, in windows of env steps.

Entry points: `train_main`, `bench_train_main`, `bench_learn_main` (argparse
namespaces from the matching `add_*_arguments`), and `python -m prospector_trainer`.
"""


def train_main(args):
    from .cli import train_main as f

    return f(args)


def bench_train_main(args):
    from .cli import bench_train_main as f

    return f(args)


def bench_learn_main(args):
    from .cli import bench_learn_main as f

    return f(args)


__all__ = ["train_main", "bench_train_main", "bench_learn_main"]
