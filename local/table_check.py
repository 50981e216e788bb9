"""``python -m local.table_check``: start `make run`, keep writing rows into the demo PostgreSQL table while a
``realtime_sync`` of ``ds_pg_demo`` polls every second, until it has committed ``--cycles`` poll cycles that
read rows to its lake table; then report what the table holds: snapshots, data files, the objects under its
location, the orphans (objects no snapshot references) and the oldest one's age, and whether every row landed
once.

The stack runs with a short orphan safety window (``--orphan-after`` seconds, as TABLE_ORPHAN_AFTER_HOURS), so
the sweep is seen at work. The check fails (exit 1) when the table holds more snapshots or data files than
maintenance keeps, an orphan older than the window plus one sweep period, or not exactly the rows written."""

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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from local.ports import free_port
from local.template import layer_dirs, load_template

ROOT = Path(__file__).resolve().parent.parent
SWEEP_PERIOD_COMMITS = 20  # synchub.tables.maintenance.ORPHAN_SWEEP_EVERY: the longest gap between sweeps


def _catalog(moto_url: str) -> Any:
    from pyiceberg.catalog.glue import GlueCatalog

    keys = {"region": "us-east-1", "access-key-id": "test", "secret-access-key": "test"}
    return GlueCatalog(
        "synchub",
        **{"glue.endpoint": moto_url, "s3.endpoint": moto_url}
        | {f"glue.{k}": v for k, v in keys.items()}
        | {f"s3.{k}": v for k, v in keys.items()},
    )


def _cycles_committed(table: Any, task_id: str) -> int:
    """How many poll cycles of the task have committed: its newest snapshot's files (each cycle writes at least
    one part; the commit records how many of the task's files it reaches)."""
    newest = 0
    for snapshot in table.snapshots():
        properties = snapshot.summary.additional_properties if snapshot.summary else {}
        if properties.get("synchub.task-id") == task_id:
            newest = max(newest, int(properties.get("synchub.files") or 0))
    return newest


def table_state(moto_url: str, name: str, orphan_after: float) -> dict[str, Any]:
    """The table's snapshots, data files, objects and orphans as they stand."""
    import boto3

    from synchub.tables.maintenance import referenced_files

    table = _catalog(moto_url).load_table(("synchub", name))
    referenced = referenced_files(table)
    bucket, prefix = table.location().removeprefix("s3://").split("/", 1)
    s3 = boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    now = datetime.now(timezone.utc)
    objects, orphan_ages = 0, []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for item in page.get("Contents", []):
            objects += 1
            if f"s3://{bucket}/{item['Key']}" not in referenced:
                orphan_ages.append((now - item["LastModified"]).total_seconds())
    summary = table.current_snapshot().summary.additional_properties
    return {
        "snapshots": len(table.snapshots()),
        "data_files": int(summary.get("total-data-files") or 0),
        "objects": objects,
        "orphans": len(orphan_ages),
        "oldest_orphan_seconds": round(max(orphan_ages, default=0.0), 1),
        "orphans_older_than_window": sum(age > orphan_after for age in orphan_ages),
        "rows": table.scan().to_arrow().num_rows,
        "sequence_number": table.metadata.last_sequence_number,
    }


def run_check(cycles: int, orphan_after: float = 30.0, insert_every: float = 0.2, port: int | None = None) -> dict:
    """Start the stack, run the realtime sync for ``cycles`` committed poll cycles, and report the table."""
    import psycopg

    from synchub.tables.maintenance import FILES_MAX, SNAPSHOTS_KEPT

    port = port or free_port()
    moto_port = free_port()
    state = Path(tempfile.mkdtemp(prefix="synchub-table-check-"))
    url, moto_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{moto_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["TABLE_ORPHAN_AFTER_HOURS"] = str(orphan_after / 3600)
    stack = subprocess.Popen(
        [sys.executable, "-m", "local", "--port", str(port), "--moto-port", str(moto_port), "--state-dir", str(state)]
        + ["--no-brokers", "--no-schedules"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    writing = threading.Event()
    written = [0]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/api/sync/data-sources/ds_pg_demo", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or stack.poll() is not None:
                raise RuntimeError("the stack did not start with ds_pg_demo within 120 s")
            time.sleep(0.2)
        config = requests.get(f"{url}/api/sync/data-sources/ds_pg_demo", timeout=10).json()["connection_config"]
        database = psycopg.connect(
            host=config["host"], port=config["port"], dbname=config["database"], user=config["user"], autocommit=True
        )

        def write_rows() -> None:
            next_id = 100_001
            while not writing.is_set():
                database.execute(
                    "INSERT INTO demo_orders VALUES (%s, 'customer-live', 1.00, 'EUR', now(), %s)",
                    (next_id, 5_000_000_000 + next_id),
                )
                written[0] += 1
                next_id += 1
                time.sleep(insert_every)

        writer = threading.Thread(target=write_rows, daemon=True)
        writer.start()
        started = time.monotonic()
        task = requests.post(
            f"{url}/api/sync/tasks",
            json={"data_source_id": "ds_pg_demo", "task_type": "realtime_sync", "parameters": {"poll_interval": 1}},
            timeout=10,
        ).json()
        catalog = _catalog(moto_url)
        committed = 0
        while committed < cycles:
            time.sleep(2)
            status = requests.get(f"{url}/api/sync/tasks/{task['id']}", timeout=10).json()
            if status["status"] not in ("pending", "running"):
                raise RuntimeError(f"the realtime sync stopped: {json.dumps(status)[:2000]}")
            try:
                committed = _cycles_committed(catalog.load_table(("synchub", "ds_pg_demo")), task["id"])
            except Exception:  # noqa: BLE001 - the table appears with the first commit
                committed = 0
        writing.set()
        writer.join()
        # A cancel ends the sync after the cycle in flight, so wait for a cycle that read the last rows (on a
        # busy machine a commit can outlast any fixed pause); the count is checked exactly below.
        deadline = time.monotonic() + 60
        while catalog.load_table(("synchub", "ds_pg_demo")).scan().to_arrow().num_rows < 10_000 + written[0]:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        requests.post(f"{url}/api/sync/tasks/{task['id']}/cancel", timeout=10)
        deadline = time.monotonic() + 60
        while requests.get(f"{url}/api/sync/tasks/{task['id']}", timeout=10).json()["status"] in ("pending", "running"):
            if time.monotonic() > deadline:
                raise RuntimeError("the realtime sync did not stop within 60 s of its cancel")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        found = table_state(moto_url, "ds_pg_demo", orphan_after)
        final_cycles = _cycles_committed(catalog.load_table(("synchub", "ds_pg_demo")), task["id"])
        database.close()
    finally:
        writing.set()
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        subprocess.run(["rm", "-rf", str(state)], check=False)
    seconds_per_cycle = elapsed / max(final_cycles, 1)
    bounds = {
        "snapshots": SNAPSHOTS_KEPT + 2,  # the newest 20, the task's own newest, and one compaction's delete
        "data_files": FILES_MAX,
        "oldest_orphan_seconds": round(orphan_after + SWEEP_PERIOD_COMMITS * seconds_per_cycle, 1),
    }
    expected_rows = 10_000 + written[0]
    problems = [f"{key} {found[key]} over its bound {bound}" for key, bound in bounds.items() if found[key] > bound]
    if found["rows"] != expected_rows:
        problems.append(f"the table holds {found['rows']} rows, the source {expected_rows}")
    return {
        "cycles": final_cycles,
        "seconds": round(elapsed, 1),
        "rows_written": written[0],
        "orphan_window_seconds": orphan_after,
        **found,
        "bounds": bounds,
        "problems": problems,
    }


def main() -> None:
    for directory in layer_dirs(load_template()):  # the synchub package, as the local stack finds it
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    parser = argparse.ArgumentParser(prog="python -m local.table_check", description=__doc__)
    parser.add_argument("--cycles", type=int, default=200, help="realtime poll cycles that read rows (default 200)")
    parser.add_argument("--orphan-after", type=float, default=30.0, help="orphan safety window, seconds")
    args = parser.parse_args()
    result = run_check(args.cycles, args.orphan_after)
    print(json.dumps(result, indent=2))
    sys.exit(1 if result["problems"] else 0)


if __name__ == "__main__":
    main()
