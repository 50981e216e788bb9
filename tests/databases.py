"""Real databases for source tests: PostgreSQL from the pgserver package (everywhere), and the MariaDB
or MySQL server of the machine when one answers on 127.0.0.1:3306 (skipped otherwise)."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest

BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)


def order(number: int) -> tuple[Any, ...]:
    return (number, f"customer-{number % 97:02d}", round(number * 1.25, 2), BASE_TIME + timedelta(minutes=number))


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A PostgreSQL server started from pgserver's binaries, with logical decoding on (CDC); yields connection
    settings."""
    pytest.importorskip("pgserver")
    from local.demo import logical_postgres

    server = logical_postgres(str(tmp_path_factory.mktemp("pgdata")))
    uri = urlparse(server.get_uri())
    host = parse_qs(uri.query).get("host", ["127.0.0.1"])[0]
    yield {
        "host": host,
        "port": uri.port or 5432,
        "database": uri.path.lstrip("/") or "postgres",
        "user": uri.username or "postgres",
        "password": "",
        "sslmode": "disable",
    }
    server.cleanup()


class PostgresTable:
    def __init__(self, settings: dict[str, Any], name: str):
        import psycopg

        self.name = name
        self.connection = psycopg.connect(
            host=settings["host"],
            port=settings["port"],
            dbname=settings["database"],
            user=settings["user"],
            autocommit=True,
        )
        self.connection.execute(f"DROP TABLE IF EXISTS {name}")
        self.connection.execute(
            f"CREATE TABLE {name} (id integer PRIMARY KEY, customer text, amount numeric(10,2), "
            "updated_at timestamptz NOT NULL)"
        )

    def insert(self, first: int, last: int) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.name} VALUES (%s, %s, %s, %s)", [order(n) for n in range(first, last + 1)]
            )

    def close(self) -> None:
        self.connection.close()


def mysql_settings() -> dict[str, Any] | None:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex(("127.0.0.1", 3306)) != 0:
            return None
    return {"host": "127.0.0.1", "port": 3306, "database": "test", "user": "root", "password": ""}


@pytest.fixture(scope="session")
def mysql() -> dict[str, Any]:
    settings = mysql_settings()
    if settings is None:
        pytest.skip("no MySQL/MariaDB server answers on 127.0.0.1:3306")
    import pymysql

    try:
        pymysql.connect(host=settings["host"], user=settings["user"], password="", database="test").close()
    except pymysql.err.Error as error:
        pytest.skip(f"MySQL/MariaDB on 127.0.0.1:3306 refused the test login: {error}")
    return settings


class MySqlTable:
    def __init__(self, settings: dict[str, Any], name: str):
        import pymysql

        self.name = name
        self.connection = pymysql.connect(
            host=settings["host"],
            port=settings["port"],
            user=settings["user"],
            password=settings["password"],
            database=settings["database"],
            autocommit=True,
        )
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(
                f"CREATE TABLE {name} (id INT PRIMARY KEY, customer VARCHAR(64), amount DECIMAL(10,2), "
                "updated_at DATETIME(3) NOT NULL)"
            )

    def insert(self, first: int, last: int) -> None:
        rows = [(n, c, a, t.replace(tzinfo=None)) for n, c, a, t in (order(n) for n in range(first, last + 1))]
        with self.connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self.name} VALUES (%s, %s, %s, %s)", rows)

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="session")
def mariadb_binlog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A MariaDB (or MySQL) server of its own with a row binlog, for CDC: started from the machine's server
    binaries in a temporary folder on a free port; skipped where there are none."""
    import shutil
    import subprocess
    import time

    from local.ports import free_port

    server = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not os.path.exists(server) or not install:
        pytest.skip("no MariaDB or MySQL server binaries (mariadbd and mariadb-install-db) on this machine")
    folder = tmp_path_factory.mktemp("mariadb")
    data, scratch = folder / "data", folder / "tmp"
    scratch.mkdir()
    # a temporary folder of its own: servers set up at once in one /tmp collide on their temporary tables
    environment = {**os.environ, "TMPDIR": str(scratch)}
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env=environment,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={folder / 'sock'}",
            f"--log-bin={data / 'binlog'}",
            "--binlog-format=ROW",
            "--server-id=1",
            "--user=root",
            f"--tmpdir={scratch}",
            f"--log-error={folder / 'error.log'}",
            f"--pid-file={folder / 'pid'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import pymysql

    deadline = time.monotonic() + 30
    while True:
        try:
            connection = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", autocommit=True)
            break
        except pymysql.err.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.skip(f"the MariaDB server did not start: {(folder / 'error.log').read_text()[-500:]}")
            time.sleep(0.2)
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS test")
    connection.close()
    yield {"host": "127.0.0.1", "port": port, "database": "test", "user": "root", "password": ""}
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
