"""Run SQL on `make run`'s embedded PostgreSQL (the demo source ds_pg_demo's database), found through the API:

    .venv/bin/python -m local.demo_sql "UPDATE demo_orders SET amount = 0 WHERE id <= 100"

Prints the rows each query returns, and what each other statement did (``UPDATE 100``). SYNCHUB_URL names another stack."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request


def connection_config(base_url: str) -> dict:
    with urllib.request.urlopen(f"{base_url}/api/sync/data-sources/ds_pg_demo", timeout=10) as answer:
        return json.load(answer)["connection_config"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sql", help="one or more statements, run in one transaction")
    parser.add_argument("--url", default=os.environ.get("SYNCHUB_URL", "http://127.0.0.1:8080"))
    args = parser.parse_args(argv)
    import psycopg

    try:
        config = connection_config(args.url.rstrip("/"))
    except OSError as error:
        print(f"the local stack does not answer at {args.url} ({error}): is `make run` running?", file=sys.stderr)
        return 2
    with psycopg.connect(
        host=config["host"], port=config["port"], dbname=config["database"], user=config["user"], autocommit=True
    ) as connection:
        cursor = connection.execute(args.sql)
        while True:  # each statement's answer: its rows, or what it did ("UPDATE 100")
            if cursor.description:
                for row in cursor.fetchall():
                    print("\t".join("" if value is None else str(value) for value in row))
            else:
                print(cursor.statusmessage)
            if not cursor.nextset():
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
