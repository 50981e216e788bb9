"""The operations guide's Deploy section takes someone who never used SAM from nothing to a task, the dashboard and a clean
delete: what the account needs, the commands, and what stays behind."""

from __future__ import annotations

import re

from local.template import load_template
from tests.conftest import ROOT

OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
DEPLOY = OPERATIONS[OPERATIONS.index("## Deploy\n") : OPERATIONS.index("## Authentication\n")]
USER_GUIDE = (ROOT / "docs" / "user-guide.md").read_text()
TEMPLATE = load_template()


def test_what_a_first_deploy_needs():
    for needed in (
        "EnableDashboard=false",
        "aws lambda get-account-settings",
        "CAPABILITY_IAM",
        "--region",
        "make deploy-check",
    ):
        assert needed in DEPLOY, needed
    stated = TEMPLATE["Metadata"]["SyncHub"]["AccountConcurrency"]
    assert f"only {stated['Limit']}" in DEPLOY and f"leave {stated['ApiHeadroom']} for the API" in DEPLOY


def test_the_commands_from_build_to_a_synced_task_and_the_dashboard():
    for command in (
        "sam build",
        "sam deploy --guided",
        "aws cloudformation describe-stacks",
        "grant_type=client_credentials",
        "/api/sync/data-sources",
        "/api/sync/tasks",
        "admin-create-user",
        "DashboardUrl",
    ):
        assert command in DEPLOY, command
    outputs = set(TEMPLATE["Outputs"])
    used = set(re.findall(r"\$\(out (\w+)\)", DEPLOY))
    assert used and used <= outputs, used - outputs


def test_deleting_says_what_stays_and_how_to_remove_it():
    assert "sam delete" in DEPLOY
    retained = [name for name, r in TEMPLATE["Resources"].items() if r.get("DeletionPolicy")]
    assert retained and all(TEMPLATE["Resources"][n]["DeletionPolicy"] == "RetainExceptOnCreate" for n in retained)
    assert "RetainExceptOnCreate" in DEPLOY and "delete-table" in DEPLOY and "object_versions.delete()" in DEPLOY


def test_signed_requests_go_to_the_api_not_through_cloudfront():
    """SigV4 does not survive CloudFront's host rewrite, so "works for scripts too" holds for tokens only."""
    assert "with\n`AuthMode` iam, call `ApiUrl`" in USER_GUIDE
    assert "With `AuthMode=iam`, sign requests to `ApiUrl`" in DEPLOY


def test_readme_gives_the_engine_the_deliveries_the_template_gives_it():
    deliveries = TEMPLATE["Mappings"]["Engine"]["Limits"]["MaxDeliveries"]
    queue = TEMPLATE["Resources"]["SyncQueue"]["Properties"]["RedrivePolicy"]
    assert queue["maxReceiveCount"] == deliveries  # one value for the queue and the functions' environment
    engine = USER_GUIDE[USER_GUIDE.index("## The engine\n") :]
    assert f"After {deliveries} deliveries SQS" in engine and f"gave up after {deliveries} failed attempts" in engine
