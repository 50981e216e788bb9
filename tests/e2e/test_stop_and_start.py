"""The local stack always stops and always starts: SIGTERM stops it (and its embedded PostgreSQL) within 10 s,
a second signal while it stops exits at once, and a start stops a PostgreSQL that a killed run left behind.
(``python -m local.stop_check`` repeats the first of these twenty times through `make run`.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e


def postmaster(state: Path) -> int:
    return int((state / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is gone too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def started(tmp_path: Path, folder: str = "state"):
    pytest.importorskip("pgserver", reason="the embedded PostgreSQL comes from pgserver (x86_64 Linux, macOS)")
    state = tmp_path / folder
    stack = start_stack(tmp_path, "--state-dir", str(state), "--no-brokers")
    return stack, state


def test_sigterm_stops_the_stack_and_its_postgresql_within_10_s_while_a_sync_runs(tmp_path):
    stack, state = started(tmp_path)
    database = postmaster(state)
    created = requests.post(
        stack.url("/api/sync/tasks"), json={"data_source_id": "ds_123", "task_type": "full_sync"}, timeout=10
    )
    assert created.status_code == 201
    time.sleep(0.5)  # the engine is mid-sync
    stopping = time.monotonic()
    stack.process.send_signal(signal.SIGTERM)
    stack.process.wait(timeout=10)
    assert time.monotonic() - stopping < 10
    assert gone_within(database, 1), "the embedded PostgreSQL outlived the stack"
    log = stack.log()
    assert "Traceback" not in log, log[-3000:]
    # each event once, as readable text under the function that wrote it
    created_lines = [line for line in log.splitlines() if created.json()["id"] in line and "task created" in line]
    assert len(created_lines) == 1 and "CreateTaskFunction" in created_lines[0], created_lines
    assert not any(line.startswith('{"level"') for line in log.splitlines())
    assert not (state / "endpoint.json").exists()  # the record of where it listened goes with it


def test_a_second_signal_while_stopping_exits_at_once(tmp_path):
    stack, state = started(tmp_path)
    database = postmaster(state)
    stack.process.send_signal(signal.SIGTERM)
    time.sleep(0.4)
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(timeout=5) in (0, 128 + signal.SIGTERM)
    assert gone_within(database, 2)


def test_a_start_stops_the_postgresql_a_killed_run_left_behind(tmp_path):
    stack, state = started(tmp_path)
    left = postmaster(state)
    stack.process.kill()
    stack.process.wait()
    assert alive(left)  # SIGKILL gave the stack no chance to stop it
    again = start_stack(tmp_path, "--state-dir", str(state), "--no-brokers")
    try:
        assert gone_within(left, 1) and postmaster(state) != left
        assert requests.get(again.url("/api/sync/data-sources/ds_pg_demo"), timeout=10).status_code == 200
    finally:
        again.process.send_signal(signal.SIGTERM)
        again.process.wait(timeout=10)
    assert gone_within(postmaster(state) if (state / "postgres" / "postmaster.pid").exists() else left, 2)


def test_the_cli_finds_the_stack_from_the_checkout(tmp_path):
    """`make run` records where it listens; the synchub command run from the checkout reads it."""
    from tests.e2e.conftest import ROOT

    stack, state = started(tmp_path, ".local-state")  # as `make run` keeps it in the checkout
    try:
        record, deadline = state / "endpoint.json", time.monotonic() + 60
        while not record.exists() and time.monotonic() < deadline:  # written once the start is complete
            time.sleep(0.2)
        assert stack.base_url in record.read_text()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCHUB_")}
        result = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "synchub"), "--json", "tasks", "list"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"tasks"' in result.stdout
        unreachable = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "synchub"), "tasks", "list"],
            cwd=tmp_path,
            env={**env, "SYNCHUB_URL": "http://127.0.0.1:9"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert unreachable.returncode == 7 and "SYNCHUB_URL" in unreachable.stdout + unreachable.stderr
    finally:
        stack.process.send_signal(signal.SIGTERM)
        stack.process.wait(timeout=10)
