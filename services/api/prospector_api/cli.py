"""`prospector api`: the API service's command (its `prospector.commands` entry point: add_api)."""

from __future__ import annotations


def add_api(sub) -> None:
    from .server import add_api_arguments, api_main  # argparse only; FastAPI loads when the command runs

    p = sub.add_parser(
        "api", help="the API service: HTTP (REST, WebSocket, live events, play) and the gRPC PlayService",
        description="Serve the HTTP API (runs, windows, replays, live events, play sessions, the web page) "
                    "with uvicorn and the gRPC PlayService in the same process; sessions live in Redis.")
    add_api_arguments(p)
    p.set_defaults(func=api_main)
