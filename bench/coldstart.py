"""Cold start per function: a fresh interpreter imports the handler and serves its sample event, beside a
baseline that only imports boto3 and creates the clients that function uses. Medians of repeated runs."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from local.template import FunctionSpec

ROOT = Path(__file__).resolve().parent.parent
EVENTS = {
    "CreateTaskFunction": "create_task.json", "ListTasksFunction": "list_tasks.json",
    "GetTaskFunction": "get_task.json", "UpdateTaskFunction": "update_task.json",
    "CancelTaskFunction": "cancel_task.json", "RetryTaskFunction": "retry_task.json",
    "TaskStatisticsFunction": "task_statistics.json", "CreateDataSourceFunction": "create_data_source.json",
    "ListDataSourcesFunction": "list_data_sources.json", "GetDataSourceFunction": "get_data_source.json",
    "UpdateDataSourceFunction": "update_data_source.json", "DeleteDataSourceFunction": "delete_data_source.json",
    "CreateInterfaceFunction": "create_interface.json", "ListInterfacesFunction": "list_interfaces.json",
    "GetInterfaceFunction": "get_interface.json", "UpdateInterfaceFunction": "update_interface.json",
    "DeleteInterfaceFunction": "delete_interface.json", "ReaperFunction": "reaper.json",
    "SyncEngineFunction": "sync_engine.json", "DeadLetterFunction": "dead_letter.json",
}

CHILD = r"""
import importlib.util, json, sys, time
start = time.perf_counter()
mode, code_dir, event_path, services = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "bench", 512, "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self):
        return 900_000

if mode in ("baseline", "framework"):
    import boto3
    session = boto3.session.Session()
    clients = [session.client(s) for s in services if s]
    result = None
    if mode == "framework":
        # The floor any handler built on Powertools and pydantic pays: logger, validating resolver, one model.
        from aws_lambda_powertools import Logger
        from aws_lambda_powertools.event_handler import APIGatewayRestResolver
        from pydantic import BaseModel

        class Model(BaseModel):
            name: str = "x"

        logger = Logger(service="floor")
        app = APIGatewayRestResolver(enable_validation=True)
        event = json.load(open(event_path))
        route = event["resource"].replace("{", "<").replace("}", ">")

        @app.route(route, method=event["httpMethod"])
        def floor_route(**params) -> dict:
            return Model().model_dump()

        result = logger.inject_lambda_context(lambda e, c: app.resolve(e, c))(event, Context())
else:
    spec = importlib.util.spec_from_file_location("handler_under_test", code_dir + "/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.lambda_handler(json.load(open(event_path)), Context())
end = time.perf_counter()
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": end - start, "rss_mb": peak_kb / 1024,
                  "modules": len(sys.modules), "status": (result or {}).get("statusCode") if isinstance(result, dict) else None}))
"""


def services_of(spec_props: dict[str, Any]) -> list[str]:
    """The AWS services a function's policies let it call (what its baseline creates clients for)."""
    text = json.dumps(spec_props.get("Policies", []))
    found = []
    for marker, service in (("DynamoDB", "dynamodb"), ("SQS", "sqs"), ("sqs:", "sqs"), ("S3", "s3"),
                            ("secretsmanager", "secretsmanager")):
        if marker in text and service not in found:
            found.append(service)
    return found


def run_child(mode: str, spec: FunctionSpec, event: Path, services: list[str], env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, "-c", CHILD, mode, str(spec.code_dir), str(event), ",".join(services)],
                               env=env, capture_output=True, text=True, timeout=120, cwd=str(spec.code_dir))
    if completed.returncode != 0:
        raise RuntimeError(f"{spec.logical_id} {mode} failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure(specs: dict[str, FunctionSpec], template: dict[str, Any], env: dict[str, str], repeats: int) -> list[dict]:
    rows = []
    for logical_id, event_name in EVENTS.items():
        spec = specs[logical_id]
        services = services_of(template["Resources"][logical_id]["Properties"])
        event = ROOT / "events" / event_name
        is_api = "httpMethod" in json.loads(event.read_text())
        function_runs, baseline_runs, framework_runs = [], [], []
        for _ in range(repeats):  # interleaved, so machine noise hits all alike
            baseline_runs.append(run_child("baseline", spec, event, services, env))
            function_runs.append(run_child("function", spec, event, services, env))
            if is_api:
                framework_runs.append(run_child("framework", spec, event, services, env))
        function_s = statistics.median(r["seconds"] for r in function_runs)
        baseline_s = statistics.median(r["seconds"] for r in baseline_runs)
        goal = 1.5 if is_api else 2.0  # API functions 1.5×; the engine and its background functions 2×
        rows.append({
            "function": logical_id, "services": services, "repeats": repeats,
            "median_seconds": round(function_s, 4), "baseline_median_seconds": round(baseline_s, 4),
            "ratio": round(function_s / baseline_s, 3), "goal_ratio": goal, "meets_goal": function_s / baseline_s <= goal,
            "rss_mb": round(statistics.median(r["rss_mb"] for r in function_runs), 1),
            "baseline_rss_mb": round(statistics.median(r["rss_mb"] for r in baseline_runs), 1),
            "first_status": function_runs[0]["status"],
        })
        if framework_runs:
            framework_s = statistics.median(r["seconds"] for r in framework_runs)
            rows[-1]["framework_median_seconds"] = round(framework_s, 4)
            rows[-1]["framework_ratio"] = round(framework_s / baseline_s, 3)
            rows[-1]["over_framework_seconds"] = round(function_s - framework_s, 4)
    return rows


def child_environment(function_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env.update(function_env)
    layer = str(ROOT / "layers" / "synchub")
    env["PYTHONPATH"] = layer
    env["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    return env
