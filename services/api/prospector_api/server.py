"""`prospector api`: the HTTP API (uvicorn) and the gRPC PlayService in one process.

Both share one set of resources (catalog, session store, metrics), so a
session made over gRPC can be stepped over HTTP in the same process or any
other replica. SIGINT/SIGTERM stop uvicorn (in-flight requests finish) and then
the gRPC server (health turns NOT_SERVING first).
"""

from __future__ import annotations

import argparse
import logging
import socket

log = logging.getLogger("prospector.api")


def add_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="0.0.0.0", help="address for HTTP and gRPC (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default PROSPECTOR_API_HTTP_PORT, 8000)")
    p.add_argument("--grpc-port", type=int, default=None,
                   help="gRPC PlayService port (default PROSPECTOR_API_GRPC_PORT, 50051; -1 disables)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--access-log", action="store_true", help="log every HTTP request")


def api_main(args: argparse.Namespace) -> int:
    import uvicorn
    from prospector_common.settings import get_settings
    from prospector_rpc.server import serve_grpc

    from .app import create_app
    from .grpc_play import PlayServicer
    from .resources import build_resources
    from .settings import get_api_settings

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings, api = get_settings(), get_api_settings()
    http_port = settings.api_http_port if args.port is None else args.port
    grpc_port = settings.api_grpc_port if args.grpc_port is None else args.grpc_port
    resources = build_resources(settings, api)
    app = create_app(resources=resources)

    grpc_server = None
    if grpc_port >= 0:
        grpc_server = serve_grpc([PlayServicer(resources.store, resources.metrics)], port=grpc_port,
                                 host=args.host, max_workers=64,
                                 max_receive_message_bytes=api.max_body_bytes)
        log.info("gRPC PlayService on %s:%d", args.host, grpc_server.port)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, http_port))
    config = uvicorn.Config(app, log_level=args.log_level, access_log=args.access_log, lifespan="on",
                            ws_max_size=api.max_body_bytes, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    log.info("HTTP API on http://%s:%d", args.host, sock.getsockname()[1])
    try:
        server.run(sockets=[sock])
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=2.0).wait()
        resources.close()
    return 0
