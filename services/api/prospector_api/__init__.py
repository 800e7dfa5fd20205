"""The API service: runs, windows, replays and live events over HTTP and WebSocket;
human and bot play over HTTP and gRPC, sessions held in Redis.

    settings     ApiSettings: the API's own knobs (session TTL and cap, body limit, ...)
    sessions     SessionStore: play sessions as the engine's saved state in Redis
    app          create_app(): the FastAPI app, its resources and middleware
    routers/     one router per resource: runs, replays, play, events, meta, health, web
    grpc_play    PlayServicer: gRPC PlayService over the same SessionStore
    pretrained   the model behind suggestions (PROSPECTOR_PRETRAINED_MODEL; numpy, no torch)
    server       `prospector api [--workers N]`: uvicorn (HTTP) and gRPC on one event loop per process
    cli          the `prospector api` entry point (add_api)

Its benchmark, `prospector bench api`, lives in bench/prospector_bench/api.py.
"""
