"""Every custom resource of template.yaml answers CloudFormation on every path: Create, Update and Delete, also
when its function cannot import the layer (Powertools, pydantic, the synchub package). An unanswered request
holds the stack - and its rollback and deletion - until the resource's ServiceTimeout."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.template import functions, load_template
from tests.conftest import ROOT, load_event
from tests.helpers import RecordingEndpoint

TEMPLATE = load_template()
# What a broken or missing layer takes away: the function may rely on the standard library alone to answer.
HEAVY_IMPORTS = ("aws_lambda_powertools", "pydantic", "pydantic_core", "synchub", "boto3", "botocore")
RUN_WITHOUT_LAYER = """
import importlib.util, json, sys
for name in sys.argv[3].split(","):
    sys.modules[name] = None  # importing it now raises ImportError
spec = importlib.util.spec_from_file_location("custom_resource_handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module_name, _, function_name = sys.argv[4].rpartition(".")
print(json.dumps(getattr(module, function_name)(json.loads(sys.argv[2]), None)))
"""


def custom_resource_handlers() -> dict[str, tuple[Path, str]]:
    """Logical id of each custom resource → its ServiceToken function's handler: source file and name."""
    specs = functions(TEMPLATE)
    found = {}
    for name, resource in TEMPLATE["Resources"].items():
        if resource["Type"].startswith("Custom::") or resource["Type"] == "AWS::CloudFormation::CustomResource":
            function = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
            spec = specs[function]
            found[name] = (spec.code_dir / (spec.handler.rpartition(".")[0].replace(".", "/") + ".py"), spec.handler)
    return found


def answers_without_layer(handler_file: Path, handler: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the handler in a fresh interpreter whose heavy imports fail; the answers CloudFormation received."""
    endpoint = RecordingEndpoint("/cloudformation-response")
    try:
        subprocess.run(
            [
                sys.executable,
                "-c",
                RUN_WITHOUT_LAYER,
                str(handler_file),
                json.dumps({**event, "ResponseURL": endpoint.url}),
                ",".join(HEAVY_IMPORTS),
                handler,
            ],
            capture_output=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        return [json.loads(request["body"]) for request in endpoint.requests]
    finally:
        endpoint.close()


def test_the_template_has_custom_resources_to_check():
    assert "DashboardSiteDeployment" in custom_resource_handlers()


@pytest.mark.parametrize("request_type", ["Create", "Update", "Delete"])
@pytest.mark.parametrize("resource", sorted(custom_resource_handlers()))
def test_answers_every_request_type_when_its_layer_cannot_be_imported(resource, request_type):
    handler_file, handler = custom_resource_handlers()[resource]
    event = copy.deepcopy(load_event("dashboard_publisher.json"))
    event.update({"RequestType": request_type, "LogicalResourceId": resource})
    if request_type != "Create":
        event["PhysicalResourceId"] = "s3://synchub-dashboardbucket-1x2y3z4w5v6u/"
    (answer,) = answers_without_layer(handler_file, handler, event)
    # A Delete that fails would block the stack's deletion; a Create or Update that cannot publish must fail.
    assert answer["Status"] == ("SUCCESS" if request_type == "Delete" else "FAILED"), answer
    assert "could not load its code" in answer["Reason"]
    assert (answer["RequestId"], answer["StackId"], answer["LogicalResourceId"]) == (
        event["RequestId"],
        event["StackId"],
        resource,
    )
    assert answer["PhysicalResourceId"] == "s3://synchub-dashboardbucket-1x2y3z4w5v6u/"


def test_a_handler_that_imports_the_layer_first_never_answers(tmp_path):
    """The check catches the mistake it is for: Powertools imported at the top, as the handler once did."""
    handler_file, handler = custom_resource_handlers()["DashboardSiteDeployment"]
    broken = tmp_path / "app.py"
    broken.write_text("from aws_lambda_powertools.utilities.typing import LambdaContext\n" + handler_file.read_text())
    event = {**load_event("dashboard_publisher.json"), "RequestType": "Delete"}
    assert answers_without_layer(broken, handler, event) == []
