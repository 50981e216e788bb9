"""Each handler, imported in a fresh interpreter as Lambda would, loads only the drivers its function uses: no
source driver (psycopg, PyMySQL, kafka-python, paho-mqtt, redis-py) at import in any function, PyJWT and
cryptography only in the WebSocket $connect function, which verifies tokens itself (and there only once a
token is checked), and pyarrow and pyiceberg (the lake layer) in none: the engine and the table preview load
them when a table is written or read. Structure, not timing."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from local.template import functions, load_template
from tests.conftest import ROOT

DRIVERS = ("psycopg", "pymysql", "kafka", "paho", "redis", "jwt", "cryptography", "pyarrow", "pyiceberg")
ALLOWED = {"WsConnectFunction": {"jwt", "cryptography"}}

IMPORT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert callable(getattr(module, sys.argv[2]))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[3].split(",")))))
"""


def loaded_drivers(spec) -> set[str]:
    module, function = spec.handler.rsplit(".", 1)
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "PYTHONPATH": str(ROOT / "layers" / "synchub"),
        **{key: str(value) for key, value in spec.environment.items() if isinstance(value, (str, int))},
    }
    result = subprocess.run(
        [sys.executable, "-c", IMPORT, str(spec.code_dir / f"{module}.py"), function, ",".join(DRIVERS)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, (spec.logical_id, result.stderr[-2000:])
    return set(json.loads(result.stdout))


def test_each_handler_loads_only_the_drivers_its_function_uses():
    specs = functions(load_template())
    with ThreadPoolExecutor(max_workers=2) as pool:
        loaded = dict(zip(specs, pool.map(loaded_drivers, specs.values())))
    unexpected = {
        name: drivers - ALLOWED.get(name, set())
        for name, drivers in loaded.items()
        if drivers - ALLOWED.get(name, set())
    }
    assert not unexpected, unexpected


def test_the_check_sees_a_driver_a_handler_imports(tmp_path):
    (tmp_path / "app.py").write_text("import redis\n\ndef lambda_handler(event, context):\n    return None\n")
    spec = dataclasses.replace(functions(load_template())["GetTaskFunction"], code_dir=tmp_path)
    assert "redis" in loaded_drivers(spec)
