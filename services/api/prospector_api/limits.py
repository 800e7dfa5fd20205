"""Limits: the request body size (pure ASGI), and what one client may do per second.

Body size: bodies over the limit get 413 before any handler runs. The declared
Content-Length is checked first; a chunked body is counted as it is read (and
buffered: API bodies are small), so neither way gets past the limit.

Per client (ClientLimits): new sessions and steps a second, token buckets per
client address, in this process (with `--workers N` or several replicas a client
may get up to that many times the rate; the live-session cap per client is kept
in Redis and holds across all of them, see prospector_api.sessions).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import threading
import time
from collections import OrderedDict
from typing import Any

from .sessions import ClientLimited


class BodySizeLimit:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def _refuse(self, send: Any, declared: int | None) -> None:
        size = f" ({declared} bytes)" if declared is not None else ""
        body = json.dumps({"detail": f"request body too large{size}: at most {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                if declared is None or declared > self.max_bytes:
                    await self._refuse(send, declared)
                    return
        buffered: list[dict] = []
        total = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await self._refuse(send, None)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> dict:
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send)


# ---- per-client rates -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # a step asks once per call: parse each address once
def client_key(host: str | None) -> str:
    """The client a request counts against: its IPv4 address, or the /64 of its IPv6 address
    (one host commonly holds a whole /64); an IPv4-mapped IPv6 address counts as the IPv4 one."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host[:100]  # not an IP (a test client, a unix socket): itself
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def grpc_peer_host(peer: str) -> str:
    """The host part of a gRPC peer string: "ipv4:1.2.3.4:5678", "ipv6:[::1]:5678", "unix:/path"."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return peer


class RateLimit:
    """Token buckets, one per client: `rate` a second, up to `burst` at once (rate 0: no limit).
    Thread-safe; remembers at most `max_clients` clients (the least recently seen are forgotten,
    which gives them a full bucket again: the memory stays bounded whatever the traffic)."""

    def __init__(self, rate: float, burst: float, max_clients: int = 100_000) -> None:
        self.rate, self.burst, self.max_clients = float(rate), max(1.0, float(burst)), max_clients
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # client -> [tokens, when]
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0.0 when the client may go on (one token taken), else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = [self.burst, now]
                if len(self._buckets) > self.max_clients:
                    self._buckets.popitem(last=False)
            else:
                bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
                bucket[1] = now
                self._buckets.move_to_end(client)
            if bucket[0] >= 1.0:
                bucket[0] -= 1.0
                return 0.0
            return (1.0 - bucket[0]) / self.rate


class ClientLimits:
    """What one client may do per second, in this process: create sessions and step (a reset,
    or a command of a Play stream, counts as what it does). Each refusal is a ClientLimited
    (HTTP 429 with Retry-After, gRPC RESOURCE_EXHAUSTED with retry-after metadata). The cap on
    a client's live sessions is the session store's (it counts across every replica)."""

    def __init__(self, creates_per_s: float, create_burst: float, steps_per_s: float, step_burst: float) -> None:
        self.creates = RateLimit(creates_per_s, create_burst)
        self.steps = RateLimit(steps_per_s, step_burst)

    @classmethod
    def from_settings(cls, api: Any) -> ClientLimits:
        return cls(api.creates_per_s, api.create_burst, api.steps_per_s, api.step_burst)

    def create(self, client: str) -> None:
        wait = self.creates.take(client)
        if wait:
            raise ClientLimited(f"too many new sessions from {client}: at most {self.creates.rate:g} a second "
                                f"(bursts of {self.creates.burst:g}); retry after {wait:.2g} s", wait)

    def step(self, client: str) -> None:
        wait = self.steps.take(client)
        if wait:
            raise ClientLimited(f"too many steps from {client}: at most {self.steps.rate:g} a second "
                                f"(bursts of {self.steps.burst:g}); retry after {wait:.2g} s", wait)
