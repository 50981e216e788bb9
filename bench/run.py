"""``make bench``: runs the benchmark suite and writes bench/results.json plus a table on stdout."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "moto")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite runs and the report forms")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()

    from bench import coldstart
    from local.resources import create_resources, function_environment
    from local.ports import free_port
    from local.stack import install_functions, start_emulator
    from local.template import functions, load_template
    from local import demo

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    template = load_template()
    emulator = start_emulator(free_port())
    stack = create_resources(template)
    install_functions(template, stack)
    demo.seed("http://127.0.0.1:9")
    specs = functions(template)
    merged: dict[str, str] = {}
    for spec in specs.values():
        merged.update(function_environment(stack, spec.environment))
    env = coldstart.child_environment(merged)

    started = time.time()
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "versions": versions(),
        "smoke": args.smoke,
        "cold_start": coldstart.measure(specs, template, env, repeats=1 if args.smoke else 7),
    }
    emulator.stop()
    from bench import throughput

    report["engine_throughput"] = throughput.measure([2_000, 6_000] if args.smoke else [50_000, 200_000],
                                                     repeats=1 if args.smoke else 3)
    report["seconds"] = round(time.time() - started, 1)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\nCold start (median of {report['cold_start'][0]['repeats']} fresh interpreters; baseline = import boto3 "
          "and create the function's clients)")
    print(f"{'function':28} {'seconds':>8} {'baseline':>9} {'ratio':>6} {'goal':>5} {'RSS MB':>7} {'base MB':>7}")
    for row in report["cold_start"]:
        mark = "ok" if row["meets_goal"] else "MISS"
        print(f"{row['function']:28} {row['median_seconds']:8.3f} {row['baseline_median_seconds']:9.3f} "
              f"{row['ratio']:6.2f} {row['goal_ratio']:5.1f} {row['rss_mb']:7.1f} {row['baseline_rss_mb']:7.1f} {mark}")
    print("\nEngine throughput, full_sync PostgreSQL → S3 data lake (baseline: plain psycopg + gzip JSONL + boto3)")
    print(f"{'rows':>8} {'engine r/s':>11} {'baseline r/s':>13} {'ratio':>6} {'goal':>5} {'engine MB':>10} {'base MB':>8}")
    for row in report["engine_throughput"]["postgresql_to_s3"]:
        mark = "ok" if row["meets_goal"] else "MISS"
        print(f"{row['rows']:8d} {row['engine_rows_per_s']:11d} {row['baseline_rows_per_s']:13d} {row['ratio']:6.2f} "
              f"{row['goal_ratio']:5.1f} {row['engine_peak_mb']:10.1f} {row['baseline_peak_mb']:8.1f} {mark}")
    flat = report["engine_throughput"]["memory_flatness"]
    if flat:
        print(f"peak memory {flat['engine_peak_mb'][0]} MB at {flat['rows'][0]} rows vs {flat['engine_peak_mb'][1]} MB at "
              f"{flat['rows'][1]} rows (×{flat['growth']}) {'ok' if flat['meets_goal'] else 'MISS'}")
    print(f"\nreport: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
