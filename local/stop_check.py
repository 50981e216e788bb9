"""``python -m local.stop_check``: start `make run` and stop it with SIGTERM to its process group, again and
again, and report: how long each stop took, whether a PostgreSQL was left running, and what a burst of clients
creating tasks at once got while the stack was starting (no 502, no refused or reset connection).

Each run starts on its own port and state folder (removed at the end); the check fails (exit 1) if any stop
took longer than ``--stop-limit`` seconds, left PostgreSQL running, or any request failed."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent


def postgres_on(folder: Path) -> list[int]:
    """Pids of PostgreSQL servers whose data folder lies under ``folder``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if (process.info["name"] or "").startswith("postgres") and any(
            str(folder) in part for part in process.info["cmdline"] or ()
        ):
            found.append(process.pid)
    return found


def burst(url: str, clients: int) -> dict[str, int]:
    """``clients`` threads creating a task at the same moment: how many got each answer (or error)."""
    outcomes: dict[str, int] = {}
    lock, start = threading.Lock(), threading.Barrier(clients)

    def create() -> None:
        start.wait()
        try:
            answer = requests.post(
                f"{url}/api/sync/tasks", json={"data_source_id": "ds_123", "task_type": "full_sync"}, timeout=60
            )
            outcome = str(answer.status_code)
        except requests.RequestException as error:
            outcome = type(error).__name__
        with lock:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    threads = [threading.Thread(target=create) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def one_run(port: int, clients: int, start_limit: float) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="synchub-stop-check-"))
    url = f"http://127.0.0.1:{port}"
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}", f"STATE={state}", "ARGS=--no-brokers"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    started = time.monotonic()
    outcomes: dict[str, int] = {}
    try:
        while time.monotonic() - started < start_limit:  # the first answer, then the burst at once
            try:
                requests.get(f"{url}/api/sync/tasks?size=1", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"make run answered nothing on {url} within {start_limit} s")
        first_answer = time.monotonic() - started
        outcomes = burst(url, clients)
        time.sleep(0.5)  # the engine is busy with the tasks just made
    finally:
        stopping = time.monotonic()
        os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        stop_seconds = time.monotonic() - stopping
        left = postgres_on(state)
        for pid in left:
            psutil.Process(pid).kill()
        subprocess.run(["rm", "-rf", str(state)], check=False)
    return {
        "first_answer_seconds": round(first_answer, 2),
        "stop_seconds": round(stop_seconds, 2),
        "postgres_left": len(left),
        "burst": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local.stop_check", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--port", type=int, default=9180)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--stop-limit", type=float, default=10.0)
    parser.add_argument("--start-limit", type=float, default=180.0)
    args = parser.parse_args()
    runs = []
    for number in range(1, args.runs + 1):
        run = one_run(args.port, args.clients, args.start_limit)
        runs.append(run)
        print(json.dumps({"run": number, **run}), flush=True)
    bad = [r for r in runs if r["stop_seconds"] > args.stop_limit or r["postgres_left"] or set(r["burst"]) != {"201"}]
    stops = sorted(r["stop_seconds"] for r in runs)
    print(
        json.dumps(
            {
                "runs": len(runs),
                "failed_runs": len(bad),
                "stop_seconds_max": stops[-1],
                "stop_seconds_median": stops[len(stops) // 2],
                "requests": sum(sum(r["burst"].values()) for r in runs),
                "requests_not_201": sum(n for r in runs for k, n in r["burst"].items() if k != "201"),
            }
        )
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
