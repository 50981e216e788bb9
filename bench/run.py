"""``make bench``: runs the benchmark suite and writes bench/results.json plus a table on stdout."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "moto")}


SECTIONS = (
    "cold_start",
    "routes",
    "engine_throughput",
    "tables",
    "capture",
    "parallel",
    "scale",
    "long_syncs",
    "dollars",
    "stream_clients",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite runs and the report forms")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    sections = args.only or list(SECTIONS)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    started = time.time()
    report: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "versions": versions(),
        "smoke": args.smoke,
    }
    timings: dict[str, float] = {}

    def run(section: str, action) -> None:
        if section in sections:
            begun = time.time()
            report[section] = action()
            timings[section] = round(time.time() - begun, 1)

    run("cold_start", lambda: cold_start(repeats=1 if args.smoke else 7))
    from bench import capture, dollars, long_syncs, parallel, routes, scale, stream_clients, tables, throughput

    run("routes", lambda: routes.measure(repeats=2 if args.smoke else 25))
    run(
        "engine_throughput",
        lambda: throughput.measure([2_000, 6_000] if args.smoke else [50_000, 200_000], repeats=1 if args.smoke else 3),
    )
    run(
        "tables",
        lambda: tables.measure(
            [2_000, 6_000] if args.smoke else [50_000, 200_000],
            repeats=1 if args.smoke else 3,
            changed=500 if args.smoke else tables.CHANGED,
        ),
    )
    run(
        "capture",
        lambda: capture.measure(
            *((2_000, 500, 3) if args.smoke else (capture.CHANGES, capture.KEYS, capture.LAG_SAMPLES))
        ),
    )
    run("parallel", lambda: parallel.measure(*((20_000, 2_000, (1, 2)) if args.smoke else ())))
    run("scale", lambda: scale.measure(*((1_000, 2_000) if args.smoke else (1_000, 100_000))))
    run("long_syncs", lambda: long_syncs.measure((10, 100, 1_000) if args.smoke else (10, 1_000, 10_000)))
    run("dollars", dollars.measure)
    run("stream_clients", lambda: stream_clients.measure(repeats=2 if args.smoke else 7))
    report["seconds"] = round(time.time() - started, 1)
    report["section_seconds"] = timings
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_tables(report)
    print(f"\nreport: {args.output} ({report['seconds']} s)")
    return 0


def cold_start(repeats: int) -> list[dict]:
    """Cold starts run in fresh interpreters against an emulator server holding the template's resources."""
    import logging

    from bench import coldstart
    from bench.environment import LOCAL_DESTINATIONS
    from local import demo
    from local.orders_server import OrdersServer
    from local.ports import free_port
    from local.resources import create_resources
    from local.stack import install_functions, start_emulator
    from local.template import load_template

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    template = load_template()
    emulator = start_emulator(free_port())
    source = OrdersServer(100)
    try:
        stack = create_resources(template)
        specs = {logical_id: function.spec for logical_id, function in install_functions(template, stack).items()}
        os.environ.update(LOCAL_DESTINATIONS)  # the child processes inherit it
        demo.seed("http://127.0.0.1:9")
        import synchub.runtime

        synchub.runtime.reset()
        return coldstart.measure(
            specs,
            template,
            coldstart.child_environment(),
            repeats=repeats,
            first_events=coldstart.FirstEvents(source.base_url),
        )
    finally:
        source.close()
        emulator.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def print_tables(report: dict) -> None:
    if "stream_clients" in report:
        print("\nStream source clients (import seconds in a fresh interpreter, median; size installed)")
        print(f"{'client':14} {'version':>9} {'import s':>9} {'MB':>6}  pure Python")
        for row in report["stream_clients"]:
            print(
                f"{row['client']:14} {row['version']:>9} {row['import_seconds']:9.3f} {row['installed_mb']:6.2f}  "
                f"{_mark(row['pure_python'])}"
            )
    if "long_syncs" in report:
        print(
            f"\nLong syncs (the same source in more and more read batches of {report['long_syncs'][0]['rows'] // report['long_syncs'][0]['read_batches']} rows)"
        )
        print(
            f"{'read batches':>12} {'rows':>9} {'seconds':>8} {'stored B':>9} {'WRU':>9} {'WRU/batch':>9} "
            f"{'updates':>7} {'parts':>5} {'S3 req':>7} {'S3/batch':>8}"
        )
        for row in report["long_syncs"]:
            print(
                f"{row['read_batches']:12} {row['rows']:9} {row['seconds']:8.1f} {row['stored_bytes']:9} "
                f"{row['write_units']:9.1f} {row['write_units_per_batch']:9.2f} {row['task_updates']:7} "
                f"{row['parts']:5} {row['s3_requests']:7} {row['s3_requests_per_batch']:8.2f}"
            )
    if "cold_start" in report:
        rows = report["cold_start"]
        print(
            f"\nCold start (median of {rows[0]['repeats']} fresh interpreters; baseline = import boto3 and create "
            "the function's clients; floors, no AWS call: pt = baseline + Powertools' logger and REST resolver, "
            "stack = pt + one pydantic model validated; peer = FastAPI + Mangum serving the route; to-stack and "
            "to-peer: the function's cold start over theirs)"
        )
        print(
            f"{'function':28} {'seconds':>8} {'baseline':>9} {'ratio':>6} {'goal':>5} {'pt×':>6} {'stack×':>7} "
            f"{'peer×':>6} {'to-stack':>8} {'to-peer':>7} {'RSS MB':>7} {'base MB':>7}"
        )
        for row in rows:

            def shown(key: str) -> str:
                return f"{row[key]:.2f}" if key in row else "-"

            print(
                f"{row['function']:28} {row['median_seconds']:8.3f} {row['baseline_median_seconds']:9.3f} "
                f"{row['ratio']:6.2f} {row['goal_ratio']:5.1f} {shown('powertools_ratio'):>6} "
                f"{shown('framework_ratio'):>7} {shown('peer_ratio'):>6} {shown('stack_ratio'):>8} "
                f"{shown('ratio_to_peer'):>7} {row['rss_mb']:7.1f} {row['baseline_rss_mb']:7.1f} "
                f"{_mark(row['meets_goal'])}"
            )
        api = sorted(row["ratio"] for row in rows if "peer_ratio" in row)
        if api:
            median = statistics.median(api)
            print(
                f"API functions: median {median:.2f}× the baseline (goal 1.6×), "
                f"{sum(row.get('below_peer', False) for row in rows)} of {len(api)} below the FastAPI peer"
            )
    if "routes" in report:
        print(
            "\nPer route, warm (requests and capacity of one call; time: median handler vs the same requests "
            "made directly with boto3)"
        )
        print(f"{'route':36} {'requests':>8} {'RRU':>6} {'WRU':>6} {'ms':>7} {'direct':>7} {'ratio':>6}  needed-only")
        for row in report["routes"]:
            print(
                f"{row['route']:36} {row['total_requests']:8d} {row['read_units']:6.1f} {row['write_units']:6.1f} "
                f"{row['warm_ms']:7.2f} {row['direct_ms']:7.2f} {row['ratio']:6.2f} {_mark(row['meets_goal'])}"
                f"  {_mark(row['only_needed_requests'])}"
            )
    if "engine_throughput" in report:
        print("\nEngine throughput, full_sync → S3 data lake (baseline: plain psycopg / urllib3 + gzip JSONL + boto3)")
        print(
            f"{'source':11} {'rows':>8} {'engine r/s':>11} {'baseline r/s':>13} {'ratio':>6} {'goal':>5} "
            f"{'engine MB':>10} {'base MB':>8}"
        )
        flows = report["engine_throughput"]
        for row in flows["postgresql_to_s3"] + flows["http_to_s3"]:
            print(
                f"{row['source']:11} {row['rows']:8d} {row['engine_rows_per_s']:11d} {row['baseline_rows_per_s']:13d} "
                f"{row['ratio']:6.2f} {row['goal_ratio']:5.1f} {row['engine_peak_mb']:10.1f} "
                f"{row['baseline_peak_mb']:8.1f} {_mark(row['meets_goal'])}"
            )
        for source, flat in flows["memory_flatness"].items():
            if flat:
                print(
                    f"{source}: peak memory {flat['engine_peak_mb'][0]} MB at {flat['rows'][0]} rows vs "
                    f"{flat['engine_peak_mb'][1]} MB at {flat['rows'][1]} rows (×{flat['growth']}) "
                    f"{_mark(flat['meets_goal'])}"
                )
    if "capture" in report:
        cdc = report["capture"]
        print(
            f"\nCDC, PostgreSQL logical replication → lake table: {cdc['changes']:,} updates across {cdc['keys']:,} "
            f"keys applied in {cdc['apply_seconds']} s ({cdc['changes_per_s']:,} changes/s); lag at one change a "
            f"second (poll_interval {cdc['lag']['poll_interval_s']} s, {cdc['lag']['samples']} commits): median "
            f"{cdc['lag']['median_s']} s, p95 {cdc['lag']['p95_s']} s"
        )
    if "parallel" in report:
        runs = report["parallel"]
        print(
            f"\nParallel syncs under the local stack (engine concurrency {runs['engine_concurrency']}, {runs['cpus']} CPUs)"
        )
        print(
            f"{'source':28} {'parallelism':>11} {'ranges':>6} {'seconds':>8} {'rows/s':>8} {'speed-up':>8} {'goal':>5}"
        )
        for key in ("ds_123", "latency_bound_http", "postgresql"):
            for row in runs[key]["runs"]:
                goal = f"{row['goal_speedup']:5.1f} {_mark(row['meets_goal'])}" if "goal_speedup" in row else ""
                print(
                    f"{key:28} {row['parallelism']:11d} {row['ranges']:6d} {row['seconds']:8.2f} "
                    f"{row['rows_per_s']:8d} {row['speedup']:8.2f} {goal}"
                )
    if "tables" in report:
        lake = report["tables"]
        print(
            f"\nLake tables, PostgreSQL → Iceberg (plain: psycopg pages → Arrow → one pyiceberg append; parts of "
            f"{lake['part_size_mb']} MB)"
        )
        print(
            f"{'rows':>8} {'engine r/s':>11} {'plain r/s':>10} {'ratio':>6} {'goal':>5} {'engine MB':>10} {'plain MB':>9}"
        )
        for row in lake["full_sync"]:
            print(
                f"{row['rows']:8d} {row['engine_rows_per_s']:11d} {row['plain_rows_per_s']:10d} {row['ratio']:6.2f} "
                f"{row['goal_ratio']:5.1f} {row['engine_peak_mb']:10.1f} {row['plain_peak_mb']:9.1f} "
                f"{_mark(row['meets_goal'])}"
            )
        merge, flat = lake["merge"], lake["memory_flatness"]
        print(
            f"merge: {merge['changed_rows']:,} changed rows into {merge['table_rows']:,}: {merge['seconds']} s "
            f"({merge['rows_per_s']:,} rows/s)"
        )
        print(
            f"engine peak memory {flat['engine_peak_mb'][0]} MB at {flat['rows'][0]:,} rows vs "
            f"{flat['engine_peak_mb'][1]} MB at {flat['rows'][1]:,} (×{flat['growth']}) {_mark(flat['meets_goal'])}"
        )
        for kind, priced in lake["dollars"].items():
            items = ", ".join(
                f"{item['item']} {item['count']:,} ${item['usd_per_million_rows']:.4f}"
                for item in priced["line_items"]
                if item["usd_per_million_rows"] is not None
            )
            print(f"{kind}: ${priced['usd_per_million_rows']:.4f} per million rows ({items})")
            if priced["not_priced"]:
                print(
                    f"  not priced here (per task, not per row: see the dollars section): {', '.join(priced['not_priced'])}"
                )
    if "scale" in report:
        few, many = report["scale"]["rows"][0]["tasks"]
        print(f"\nScale: requests and capacity with {few:,} vs {many:,} tasks stored")
        for row in report["scale"]["rows"]:
            print(
                f"{row['request']:44} {row['few']['total_requests']:3d} req {row['few']['read_units']:6.1f} RRU  vs "
                f"{row['many']['total_requests']:3d} req {row['many']['read_units']:6.1f} RRU  "
                f"{'identical' if row['identical'] else 'DIFFERENT'}"
            )
    if "dollars" in report:
        money = report["dollars"]
        print(
            f"\nDollars per million lifecycles ({money['lifecycle']}; prices {money['prices']['region']}, "
            f"recorded {money['prices']['recorded']})"
        )
        for item in money["line_items"]:
            print(
                f"{item['item']:48} {item['per_lifecycle']:>10} × ${item['unit_usd']:.10f} = "
                f"${item['usd_per_million_lifecycles']:>8.2f}"
            )
        print(f"{'total':48} {'':>10}   {'':>13}   ${money['usd_per_million_lifecycles']:>8.2f}")
        print(
            "DynamoDB write units of one lifecycle, by table and kind: "
            + ", ".join(f"{row['table']} {row['kind']} {row['write_units']:g}" for row in money["write_units_by_table"])
        )


if __name__ == "__main__":
    sys.exit(main())
