"""A FastAPI app under a real uvicorn in a thread, on a free loopback port: shared by the
API and web-page tests (tests/ is on sys.path through tests/conftest.py)."""

from __future__ import annotations

import socket
import threading
import time


class LiveServer:
    """The app under a real uvicorn in a thread, on a free loopback port."""

    def __init__(self, app, start_timeout: float = 10) -> None:
        import uvicorn

        self.start_timeout = start_timeout
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
