"""Local processes listen on loopback unless told otherwise (containers: every interface of their
network, by the compose file's PROSPECTOR_BIND_HOST), and `prospector up` sets an operator token
and prints how to use it."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import subprocess
import sys
import time

import httpx
from prospector_common.net import free_port
from prospector_common.prometheus import new_registry, start_metrics_server
from prospector_rpc.server import serve_grpc, serve_grpc_aio
from prospector_stack.compose import APP_SERVICES, Compose
from prospector_stack.launcher import Stack, UpOptions

REDIS_URL = os.environ.get("PROSPECTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on a TCP port (Linux /proc/net/tcp{,6}), as hex."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                address, hex_port = row.split()[1].rsplit(":", 1)
                if hex_port == f"{port:04X}" and row.split()[3] == "0A":  # LISTEN
                    found.add(address)
    return found


# 127.0.0.1 as /proc/net/tcp writes it, and as tcp6 writes it for a dual-stack socket (::ffff:127.0.0.1)
LOOPBACK_FORMS = {"0100007F", "0000000000000000FFFF00000100007F"}


def on_loopback(port: int) -> bool:
    addresses = listening_addresses(port)
    return bool(addresses) and addresses <= LOOPBACK_FORMS


def test_servers_listen_on_loopback_unless_told_otherwise():
    grpc_server = serve_grpc([], port=0)
    metrics = start_metrics_server(0, new_registry())
    try:
        assert on_loopback(grpc_server.port) and on_loopback(metrics.port)
    finally:
        grpc_server.stop(None).wait()
        metrics.stop()

    async def aio_on_loopback() -> bool:
        server = await serve_grpc_aio([], port=0)
        try:
            return on_loopback(server.port)
        finally:
            await server.stop(None)

    assert asyncio.run(aio_on_loopback())


def test_prospector_api_listens_on_loopback_by_default(tmp_path):
    http_port, grpc_port = free_port(), free_port()
    env = {**os.environ, "PROSPECTOR_DATA_DIR": str(tmp_path), "REDIS_URL": REDIS_URL, "DATABASE_URL": ""}
    env.pop("PROSPECTOR_BIND_HOST", None)
    process = subprocess.Popen([sys.executable, "-m", "prospector.cli", "api", "--port", str(http_port),
                                "--grpc-port", str(grpc_port), "--log-level", "warning"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not listening_addresses(http_port) or not listening_addresses(grpc_port):
            assert process.poll() is None and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.1)
        assert on_loopback(http_port) and on_loopback(grpc_port)
        assert httpx.get(f"http://127.0.0.1:{http_port}/healthz").status_code == 200
    finally:
        process.terminate()
        process.wait(30)


def test_containers_bind_their_network_and_the_local_stack_loopback(tmp_path):
    compose = Compose.load()
    stack = Stack(UpOptions(data_dir=tmp_path / "runs"), environ={"PATH": "/usr/bin:/bin"}, out=io.StringIO())
    stack.redis_url = "redis://127.0.0.1:1/0"
    for service in APP_SERVICES:
        assert compose.environment(service)["PROSPECTOR_BIND_HOST"] == "0.0.0.0"
        assert "--host" not in compose.command(service, {})  # the variable decides, here and in `prospector up`
    for child in stack.build_children():
        assert child.env["PROSPECTOR_BIND_HOST"] == "127.0.0.1", child.name
    # only the API publishes ports (and Prometheus, its own image); the rest are exposed to the network
    published = {name for name, service in compose.services.items() if service.get("ports")}
    assert published == {"api", "prometheus"}


def test_prospector_up_sets_an_operator_token_and_says_how_to_use_it(tmp_path):
    out = io.StringIO()
    stack = Stack(UpOptions(data_dir=tmp_path / "runs"), environ={"PATH": "/usr/bin:/bin"}, out=out)
    stack.redis_url = "redis://127.0.0.1:1/0"
    token = stack.environ["PROSPECTOR_OPERATOR_TOKEN"]
    assert len(token) >= 24
    children = stack.build_children()
    assert {c.env["PROSPECTOR_OPERATOR_TOKEN"] for c in children} == {token}
    stack._write_token_file()
    stack.print_banner()
    banner = out.getvalue()
    assert f"authorization: Bearer {token}" in banner and "EvaluateWindow" in banner
    assert stack.token_file.read_text().strip() == token
    assert stat.S_IMODE(stack.token_file.stat().st_mode) == 0o600
    given = Stack(UpOptions(data_dir=tmp_path / "runs2"), environ={"PATH": "/usr/bin", "PROSPECTOR_OPERATOR_TOKEN": "mine"},
                  out=io.StringIO())
    assert given.environ["PROSPECTOR_OPERATOR_TOKEN"] == "mine"  # one given is kept
    assert Stack(UpOptions(data_dir=tmp_path / "runs3"), environ={"PATH": "/usr/bin"},
                 out=io.StringIO()).environ["PROSPECTOR_OPERATOR_TOKEN"] != token  # a new one each run
