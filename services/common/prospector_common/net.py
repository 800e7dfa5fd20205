"""Free TCP ports, the one way every service, benchmark and test asks the kernel for them.

A port is free when it is picked; nothing reserves it afterwards, so take it
(bind or hand it to a child) soon, and take several at once with free_ports
so that they differ.
"""

from __future__ import annotations

import socket

LOCALHOST = "127.0.0.1"


def free_port(host: str = LOCALHOST) -> int:
    """A port nothing listens on right now on `host` (the kernel's choice)."""
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = LOCALHOST) -> list[int]:
    """n different free ports: the sockets are all held open until every port is picked."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()
