"""``python -m local``: run SyncHub locally (API on http://127.0.0.1:8080), no Docker needed."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from local import logs
from local.demo import stop_postgres
from local.ports import free_port, in_use
from local.stack import LocalStack
from local.state import wipe


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)), help="API port (env PORT)")
    parser.add_argument(
        "--ws-port",
        type=int,
        default=int(os.environ.get("WS_PORT", 0)) or None,
        help="WebSocket API port (env WS_PORT; default the API port + 1)",
    )
    parser.add_argument(
        "--moto-port",
        type=int,
        default=None,
        help="port of the embedded AWS emulator (env MOTO_PORT; default 4566, or a free one)",
    )
    parser.add_argument(
        "--no-engine", action="store_true", help="serve the API without invoking queue consumers: tasks stay pending"
    )
    parser.add_argument(
        "--engine-concurrency",
        type=int,
        default=int(os.environ.get("ENGINE_CONCURRENCY", 10)),
        help="engine invocations at once (the template's EngineMaxConcurrency; env ENGINE_CONCURRENCY, default 10)",
    )
    parser.add_argument("--no-schedules", action="store_true", help="do not run scheduled functions")
    parser.add_argument(
        "--no-postgres",
        action="store_true",
        help="do not start the embedded PostgreSQL behind the demo source ds_pg_demo",
    )
    parser.add_argument(
        "--no-brokers",
        action="store_true",
        help="no Kafka, Redis or MQTT demo sources (a tansu broker is started for Kafka)",
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="enforce the template's API auth (AuthMode cognito) with a local user pool, and print "
        "a demo token; without it the API is open (AuthMode none)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep tasks, data sources, secrets and lake files here between runs (make run: "
        ".local-state); without it nothing outlives the process",
    )
    parser.add_argument("--fresh", action="store_true", help="forget the state kept in --state-dir and start empty")
    parser.add_argument(
        "--json-logs", action="store_true", help="log JSON lines (with the functions' metrics) instead of readable text"
    )
    args = parser.parse_args()
    note_stop_signals()  # from here on: a signal during the start stops the stack once it has started
    if args.fresh and args.state_dir:
        stop_postgres(str(args.state_dir / "postgres"))  # a killed run's server must not outlive its files
        wipe(args.state_dir)
    args.ws_port = args.ws_port or args.port + 1
    if not args.json_logs:
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # EMF lines are for CloudWatch, not for reading
    logs.configure(as_json=args.json_logs)
    for port, variable in ((args.port, "PORT"), (args.ws_port, "WS_PORT")):
        if port and in_use(port):
            print(
                f"port {port} is already in use (is `make run` running?); choose another with {variable}=…",
                file=sys.stderr,
            )
            sys.exit(1)
    moto_port = args.moto_port or int(os.environ.get("MOTO_PORT", 0)) or (free_port() if in_use(4566) else 4566)
    stack = LocalStack(
        port=args.port,
        ws_port=args.ws_port,
        moto_port=moto_port,
        engine=not args.no_engine,
        engine_concurrency=max(2, args.engine_concurrency),
        schedules=not args.no_schedules,
        demo_postgres=not args.no_postgres,
        demo_brokers=not args.no_brokers,
        auth=args.auth,
        state_dir=args.state_dir,
    )
    stack.start()
    if args.state_dir:
        record_endpoints(args.state_dir, stack, moto_port)
    print(
        f"SyncHub API on {stack.base_url}  (AWS emulator on http://127.0.0.1:{moto_port}; "
        f"engine {'off' if args.no_engine else 'on'})",
        flush=True,
    )
    print(f"  dashboard: {stack.base_url}/", flush=True)
    print(
        "  outbound: sources and webhooks may reach loopback and private addresses here (deployed: public "
        "ones and AllowedPrivateNetworks only)",
        flush=True,
    )
    if stack.brokers:
        for line in stack.brokers.available:
            print(f"  stream demo {line}", flush=True)
        for line in stack.brokers.absent:
            print(f"  no stream demo for {line}", flush=True)
    if args.state_dir:
        print(f"  state kept in {args.state_dir}/ between runs (make run ARGS=--fresh starts empty)", flush=True)
    print(
        f"  synced data: GET {stack.base_url}/api/sync/tasks/<id>/output, or with any credentials: "
        f"AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url http://127.0.0.1:{moto_port} "
        f"s3 ls s3://{stack.stack.refs['DataLakeBucket']}/",
        flush=True,
    )
    print(f'  live task status: {stack.websocket_url}  (send {{"action":"subscribe","task_ids":[…]}})', flush=True)
    if stack.demo_token:
        print(
            "  auth on (AuthMode cognito): demo token with scopes synchub/read and synchub/write, valid 12 h:",
            flush=True,
        )
        print(f"  export SYNCHUB_TOKEN={stack.demo_token}", flush=True)
        print(f'  try: curl -H "Authorization: Bearer $SYNCHUB_TOKEN" {stack.base_url}/api/sync/tasks', flush=True)
        print(f"  more tokens: curl '{stack.base_url}/_local/token?user=alice&scope=synchub/read'", flush=True)
    else:
        print(f"  try: curl {stack.base_url}/api/sync/tasks", flush=True)
    print(
        f"  the synchub command finds this stack from the checkout; elsewhere: export SYNCHUB_URL={stack.base_url}",
        flush=True,
    )
    wait_for_stop_signal()
    stop_now_on_another_signal(stack)
    try:
        stack.stop()
    finally:
        if args.state_dir:
            (args.state_dir / ENDPOINT_RECORD).unlink(missing_ok=True)


ENDPOINT_RECORD = "endpoint.json"  # read by the synchub command (synchub_cli.client.local_stack)


def record_endpoints(state_dir: Path, stack: LocalStack, moto_port: int) -> None:
    """Where this run serves, for the synchub command run from the checkout."""
    state_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "api_url": stack.base_url,
        "websocket_url": stack.websocket_url,
        "aws_endpoint_url": f"http://127.0.0.1:{moto_port}",
        "pid": os.getpid(),
    }
    (state_dir / ENDPOINT_RECORD).write_text(json.dumps(record, indent=2) + "\n")


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class _Signals:
    """What the signal handlers set: a flag, no lock (a handler may run while any lock is held)."""

    stopping = False


def _note_signal(number: int, _frame: object) -> None:
    _Signals.stopping = True


def note_stop_signals() -> None:
    """SIGTERM, SIGINT (Ctrl-C) and SIGHUP ask the stack to stop."""
    for number in STOP_SIGNALS:
        signal.signal(number, _note_signal)


def wait_for_stop_signal() -> None:
    """Return once a stop signal has arrived (or at once if one came during the start)."""
    while not _Signals.stopping:
        time.sleep(0.2)


def stop_now_on_another_signal(stack: LocalStack) -> None:
    """While the stack stops, a second signal stops the process at once (the embedded PostgreSQL too)."""

    def now(number: int, _frame: object) -> None:
        signal.signal(number, signal.SIG_DFL)
        stack.stop_postgres(immediately=True)
        os._exit(128 + number)

    for number in STOP_SIGNALS:
        signal.signal(number, now)


if __name__ == "__main__":
    main()
