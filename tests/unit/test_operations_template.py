"""What operators rely on is in template.yaml: log retention for every function, the alarms, the dashboard,
and README says where they are."""

from __future__ import annotations

import json
import re
from pathlib import Path

from local.template import functions, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]


def of_type(kind: str) -> dict[str, dict]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def test_every_function_has_a_log_group_with_retention():
    groups = of_type("AWS::Logs::LogGroup")
    for name, spec in functions(TEMPLATE).items():
        logging = RESOURCES[name]["Properties"].get("LoggingConfig") or {}
        group = groups.get((logging.get("LogGroup") or {}).get("Ref"))
        assert group is not None, f"{name} writes to no log group of the stack"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{name}"}
        assert group.get("Condition") == RESOURCES[name].get("Condition"), name


def alarms() -> dict[str, dict]:
    return {name: r["Properties"] for name, r in of_type("AWS::CloudWatch::Alarm").items()}


def test_every_dead_letter_queue_and_failure_destination_has_an_alarm():
    dead_letter_queues = set()
    for resource in of_type("AWS::SQS::Queue").values():
        target = ((resource.get("Properties") or {}).get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        if target:
            dead_letter_queues.add(target["Fn::GetAtt"][0])
    for spec in functions(TEMPLATE).values():
        for event in spec.events.values():
            failure = ((event.get("Properties") or {}).get("DestinationConfig") or {}).get("OnFailure")
            if failure:
                dead_letter_queues.add(failure["Destination"]["Fn::GetAtt"][0])
    # Visible messages on a queue nobody reads; received messages on one a function drains (SyncDeadLetterQueue).
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms().values()
        if a.get("Namespace") == "AWS/SQS"
        and a["MetricName"] in ("ApproximateNumberOfMessagesVisible", "NumberOfMessagesReceived")
    }
    assert dead_letter_queues and dead_letter_queues <= watched, dead_letter_queues - watched


def test_engine_errors_stuck_tasks_and_api_5xx_have_alarms_that_tell_the_topic():
    found = alarms()
    engine = [m["MetricStat"]["Metric"] for a in found.values() for m in a.get("Metrics") or [] if "MetricStat" in m]
    errors = [m for m in engine if m["Namespace"] == "AWS/Lambda" and m["MetricName"] == "Errors"]
    assert errors and errors[0]["Dimensions"][0]["Value"] == {"Ref": "SyncEngineFunction"}
    stuck = [a for a in found.values() if a.get("Namespace") == "SyncHub" and a["MetricName"] == "StuckTasksFound"]
    reaper = (ROOT / "functions" / "reaper" / "app.py").read_text()
    assert stuck and 'name="StuckTasksFound"' in reaper  # the reaper emits what the alarm watches
    api = [a for a in found.values() if a.get("Namespace") == "AWS/ApiGateway" and a["MetricName"] == "5XXError"]
    assert api, "no API 5xx alarm"
    dimensions = {d["Name"]: d["Value"] for d in api[0]["Dimensions"]}
    assert dimensions["ApiName"] == RESOURCES["SyncApi"]["Properties"]["Name"]
    assert dimensions["Stage"] == RESOURCES["SyncApi"]["Properties"]["StageName"]
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_the_dashboard_is_valid_json_and_shows_every_alarm():
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    body, _ = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = re.sub(r"\$\{([^}]+)\}", lambda m: m.group(1), body)  # ${X.Arn} → X.Arn: JSON either way
    widgets = json.loads(rendered)["widgets"]
    shown = {arn for w in widgets if w["type"] == "alarm" for arn in w["properties"]["alarms"]}
    assert shown == {f"{name}.Arn" for name in alarms()}
    titles = {w["properties"].get("title") for w in widgets}
    assert {"Tasks", "Rows synced", "Engine", "Queues", "REST API", "Live feed"} <= titles


def test_the_operations_guide_names_the_alarms_and_the_dashboard():
    readme = (ROOT / "docs" / "operations.md").read_text()
    for name in alarms():
        assert f"`{name}`" in readme, name
    assert "-operations" in readme and "OperationsDashboardUrl" in readme


def test_a_batch_of_webhooks_ends_before_the_function_times_out():
    """A batch's deliveries run in parallel within one deadline (WebhookDeliveryFunction's timeout must hold it
    and the margin for answering), so a slow endpoint never times the invocation out and resends the batch."""
    from synchub.notify.webhooks import DEADLINE_MARGIN_SECONDS
    from synchub.settings import Settings

    timeout = functions(TEMPLATE)["WebhookDeliveryFunction"].timeout
    deadline = Settings.model_fields["webhook_deadline_seconds"].default
    assert deadline + DEADLINE_MARGIN_SECONDS <= timeout
    assert Settings.model_fields["webhook_timeout_seconds"].default * 2 <= deadline  # connect, then the answer
