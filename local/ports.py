"""Local TCP ports: whether one is taken, and a free one."""

from __future__ import annotations

import socket
import subprocess
import time


def in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host:port``."""
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, what: str, seconds: float = 20) -> None:
    """Wait for a server ``process`` just started to accept connections on ``port``; RuntimeError if it exits
    first or takes longer than ``seconds``."""
    deadline = time.monotonic() + seconds
    while not in_use(port):
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {port} within {seconds:g} s")
        time.sleep(0.05)
