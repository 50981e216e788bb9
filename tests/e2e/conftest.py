"""The local stack started as `make run` starts it (python -m local), on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from local.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


class RunningStack:
    def __init__(self, base_url: str, moto_port: int, process: subprocess.Popen, log_path: Path, ws_url: str = ""):
        self.base_url = base_url
        self.ws_url = ws_url
        self.moto_port = moto_port
        self.process = process
        self.log_path = log_path

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_stack(tmp_path: Path, *args: str) -> RunningStack:
    port, moto_port, ws_port = free_port(), free_port(), free_port()
    log_path = tmp_path / "stack.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local",
            "--port",
            str(port),
            "--moto-port",
            str(moto_port),
            "--ws-port",
            str(ws_port),
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited: {log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/_local/health", timeout=1).status_code == 200:
                return RunningStack(base_url, moto_port, process, log_path, f"ws://127.0.0.1:{ws_port}")
        except requests.RequestException:  # not listening yet, or still seeding
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("local stack did not start within 60 s")


def stop_stack(stack: RunningStack) -> None:
    stack.process.terminate()
    try:
        stack.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        stack.process.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    stop_stack(running)


def follow(stack: RunningStack, task_id: str, timeout: float = 120) -> list[dict]:
    """Poll a task until it ends; returns the snapshots seen."""
    snapshots, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = requests.get(stack.url(f"/api/sync/tasks/{task_id}"), timeout=10).json()
        snapshots.append(task)
        if task["status"] in ("success", "failed", "cancelled"):
            return snapshots
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} still {snapshots[-1]['status']} after {timeout} s")


def lake_table(stack: RunningStack, name: str):
    """A lake table as README reads it: pyiceberg's Glue catalog at the stack's emulator, dummy credentials."""
    from pyiceberg.catalog.glue import GlueCatalog

    endpoint = f"http://127.0.0.1:{stack.moto_port}"
    credentials = {"region": "us-east-1", "access-key-id": "testing", "secret-access-key": "testing"}
    catalog = GlueCatalog(
        "synchub",
        **{"glue.endpoint": endpoint, "s3.endpoint": endpoint},
        **{f"glue.{k}": v for k, v in credentials.items()},
        **{f"s3.{k}": v for k, v in credentials.items()},
    )
    return catalog.load_table(("synchub", name))
