"""The deployed template keeps every rule of tests/deploy/rules.py, for every AuthMode and for a brand-new
account's settings; and each rule catches the mistake it is for, shown by a deliberately broken fragment."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest
from samtranslator.model.exceptions import InvalidDocumentException

from local.template import load_template, parameter_defaults
from tests.deploy import rules
from tests.deploy.transformed import (
    PARAMETER_SETS,
    deployed,
    deployed_from,
    resolve_language_extensions,
    resource_counts,
    sam_translate,
)

SOURCE = load_template()


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda rule: rule.__name__)
@pytest.mark.parametrize("parameter_set", sorted(PARAMETER_SETS))
def test_the_template_keeps_the_rule(parameter_set, rule):
    assert rule(deployed(parameter_set)) == []


# ---------------------------------------------------------------- each rule catches its mistake
def _resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]


def no_dead_letter_visibility(t):  # the first deploy rolled back: 30 s against DeadLetterFunction's 60 s
    del _resource(t, "SyncDeadLetterQueue")["VisibilityTimeout"]


def one_receive(t):
    _resource(t, "SyncQueue")["RedrivePolicy"]["maxReceiveCount"] = 1


def aws_managed_topic_key(t):  # CloudWatch cannot use alias/aws/sns: no alarm notification arrives
    _resource(t, "AlarmTopic")["KmsMasterKeyId"] = "alias/aws/sns"


def key_without_cloudwatch(t):
    statements = _resource(t, "AlarmTopicKey")["KeyPolicy"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "CloudWatchAlarmsPublish"]


def alarm_on_visible_dead_letters(t):  # DeadLetterFunction drains the queue: the alarm almost never fires
    _resource(t, "SyncDeadLetterAlarm").update(MetricName="ApproximateNumberOfMessagesVisible", Statistic="Maximum")


def no_openapi_version(t):  # SAM then adds a stage named "Stage" without v1's throttling
    del t["Globals"]["Api"]


def name_without_region(t):  # the same stack in a second region collides
    _resource(t, "DashboardOriginAccessControl")["OriginAccessControlConfig"]["Name"] = {
        "Fn::Sub": "${AWS::StackName}-dashboard"
    }


def long_layer_name(t):  # 143 characters for a 128-character stack name
    _resource(t, "DashboardSite")["LayerName"] = {"Fn::Sub": "${AWS::StackName}-dashboard-site"}


def engine_takes_the_account(t):  # a new account's 10 all taken by the engine
    t["Parameters"]["EngineMaxConcurrency"]["Default"] = 10


def unbounded_webhooks(t):
    del t["Resources"]["WebhookDeliveryFunction"]["Properties"]["Events"]["Deliveries"]["Properties"]["ScalingConfig"]


def reserved_concurrency(t):  # refused where the account's limit is 10
    _resource(t, "ReaperFunction")["ReservedConcurrentExecutions"] = 1


def overlapping_schedule(t):
    _resource(t, "ReaperFunction")["Timeout"] = 600


def log_group_after_function(t):  # the reaper's first run can create the group before the stack does
    del _resource(t, "ReaperFunction")["LoggingConfig"]


def retained_table(t):  # a failed first create leaves the table behind
    t["Resources"]["TasksTable"]["DeletionPolicy"] = "Retain"


def hour_long_custom_resource(t):
    del _resource(t, "DashboardSiteDeployment")["ServiceTimeout"]


def unconditional_dashboard_output(t):  # without the dashboard, the output names a distribution that is not there
    del t["Outputs"]["DashboardUrl"]["Condition"]


def snapstart_without_an_alias(t):  # SnapStart applies to published versions: none would be published
    del _resource(t, "GetTaskFunction")["AutoPublishAlias"]


BROKEN: list[tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], list[str]], str]] = [
    (no_dead_letter_visibility, rules.queue_visibility, "cognito"),
    (one_receive, rules.dead_letter_receives, "cognito"),
    (aws_managed_topic_key, rules.alarm_topic_keys, "cognito"),
    (key_without_cloudwatch, rules.alarm_topic_keys, "cognito"),
    (alarm_on_visible_dead_letters, rules.drained_queue_alarms, "cognito"),
    (no_openapi_version, rules.api_stages, "cognito"),
    (name_without_region, rules.global_names, "cognito"),
    (long_layer_name, rules.name_lengths, "cognito"),
    (engine_takes_the_account, rules.concurrency, "cognito"),
    (unbounded_webhooks, rules.concurrency, "cognito"),
    (reserved_concurrency, rules.concurrency, "cognito"),
    (overlapping_schedule, rules.concurrency, "cognito"),
    (log_group_after_function, rules.log_groups_first, "cognito"),
    (retained_table, rules.retained_resources, "cognito"),
    (hour_long_custom_resource, rules.custom_resources, "cognito"),
    (unconditional_dashboard_output, rules.dangling_references, "cognito-no-dashboard"),
    (snapstart_without_an_alias, rules.snapstart, "cognito-snapstart"),
]


@pytest.mark.parametrize(("breaks", "rule", "parameter_set"), BROKEN, ids=[b[0].__name__ for b in BROKEN])
def test_the_rule_catches_a_broken_fragment(breaks, rule, parameter_set):
    broken = copy.deepcopy(SOURCE)
    breaks(broken)
    assert rule(deployed_from(broken, PARAMETER_SETS[parameter_set])) != []


def test_every_rule_has_a_broken_fragment():
    assert {rule for _, rule, _ in BROKEN} == set(rules.RULES)


# ---------------------------------------------------------------- AWS::LanguageExtensions
def test_plain_sam_refuses_the_authorizer_choice_that_language_extensions_resolves():
    """The API's DefaultAuthorizer is an Fn::If on AuthMode. SAM alone refuses it; CloudFormation runs the
    AWS::LanguageExtensions transform first, which resolves intrinsics the parameters decide (AWS's SAM guide
    recommends it for exactly this), and SAM then reads a plain name."""
    assert "AWS::LanguageExtensions" in SOURCE["Transform"]
    without = {**copy.deepcopy(SOURCE), "Transform": "AWS::Serverless-2016-10-31"}
    with pytest.raises(InvalidDocumentException, match="DefaultAuthorizer"):
        sam_translate(without, parameter_defaults(SOURCE))


@pytest.mark.parametrize(
    ("mode", "authorization"), [("cognito", "COGNITO_USER_POOLS"), ("iam", "AWS_IAM"), ("none", "NONE")]
)
def test_each_auth_mode_protects_every_route_but_the_documentation(mode, authorization):
    parameters = {**parameter_defaults(SOURCE), "AuthMode": mode}
    translated = sam_translate(resolve_language_extensions(SOURCE, parameters), parameters)
    (api,) = [r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    seen = {}
    for path, operations in api["Properties"]["Body"]["paths"].items():
        for method, operation in operations.items():
            security = operation.get("security") or []
            kinds = {name for entry in security for name in entry}
            seen[(method, path)] = kinds
    documentation = {("get", "/api/sync/openapi.json"), ("get", "/api/sync/docs"), ("get", "/api/sync/docs/{asset}")}
    for route, kinds in seen.items():
        if route in documentation or mode == "none":
            assert kinds <= {"NONE"}, (route, kinds)
        else:
            expected = "AWS_IAM" if authorization == "AWS_IAM" else "SyncHubUserPool"
            assert kinds == {expected}, (route, kinds)


def test_a_brand_new_account_deploys_without_cloudfront():
    """CloudFront may refuse an account it has not verified: EnableDashboard=false leaves out every CloudFront
    resource and the dashboard's deployment, and the API, its outputs and the live feed stay."""
    template = deployed("cognito-no-dashboard")
    kinds = resource_counts(template)
    assert not [kind for kind in kinds if kind.startswith("AWS::CloudFront::")]
    assert kinds["Custom::DashboardSite"] == 0 and kinds["AWS::ApiGateway::RestApi"] == 1
    assert {"ApiUrl", "WebSocketUrl", "TokenUrl"} <= set(template["Outputs"])
    assert not {"DashboardUrl", "DashboardBucketName", "DashboardClientId"} & set(template["Outputs"])


# ---------------------------------------------------------------- ApiSnapStart
def test_snapstart_on_gives_each_api_function_an_alias_of_published_versions_and_off_changes_nothing():
    on, off = deployed("cognito-snapstart"), deployed("cognito")
    functions = rules.resources(on, "AWS::Lambda::Function")
    api = {
        name
        for name, f in SOURCE["Resources"].items()
        if f["Type"] == "AWS::Serverless::Function"
        and any(e.get("Type") == "Api" for e in (f["Properties"].get("Events") or {}).values())
    }
    snapped = {name for name, f in functions.items() if rules.props(f).get("SnapStart")}
    assert api and snapped == api  # the API functions, not the background ones
    aliased = {rules.target(rules.props(a)["FunctionName"]) for a in rules.resources(on, "AWS::Lambda::Alias").values()}
    assert aliased == api
    assert not any(rules.props(f).get("SnapStart") for f in rules.resources(off, "AWS::Lambda::Function").values())
    added = resource_counts(on) - resource_counts(off)
    assert added == {"AWS::Lambda::Version": len(api), "AWS::Lambda::Alias": len(api)}
    assert resource_counts(off) - resource_counts(on) == {}
