"""The stream sources' client libraries as the engine pays for them: import time in a fresh interpreter (median
of repeated runs, beside an interpreter that imports nothing) and size installed. Each loads only when a task
of its source type runs."""

from __future__ import annotations

import statistics
import subprocess
import sys
from importlib.metadata import distribution

CLIENTS = {
    "kafka-python": "kafka",
    "paho-mqtt": "paho.mqtt.client",
    "redis": "redis",
    "psycopg": "psycopg",
    "PyMySQL": "pymysql",
}  # the SQL drivers for comparison

CHILD = "import time, importlib, sys; t = time.perf_counter(); {imports}; print(time.perf_counter() - t)"


def _seconds(module: str | None, repeats: int) -> float:
    imports = f"importlib.import_module({module!r})" if module else "pass"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", CHILD.format(imports=imports)], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(runs)


def _installed_mb(name: str) -> float:
    files = distribution(name).files or []
    return round(sum((f.size or 0) for f in files) / 1_000_000, 2)


def measure(repeats: int = 7) -> list[dict]:
    rows = []
    for name, module in CLIENTS.items():
        rows.append(
            {
                "client": name,
                "module": module,
                "version": distribution(name).version,
                "import_seconds": round(_seconds(module, repeats), 4),
                "installed_mb": _installed_mb(name),
                "pure_python": not any(str(f).endswith((".so", ".pyd")) for f in distribution(name).files or []),
            }
        )
    return rows
