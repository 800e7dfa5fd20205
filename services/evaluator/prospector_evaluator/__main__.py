"""`python -m prospector_evaluator [options]`: the evaluator service (same as `prospector evaluate`)."""

import argparse
import sys

from .cli import add_evaluate_arguments, evaluate_main

parser = argparse.ArgumentParser(prog="python -m prospector_evaluator", description="The evaluator service")
add_evaluate_arguments(parser)
sys.exit(evaluate_main(parser.parse_args()))
