"""Glue's table optimizers, as the deployed engine turns them on: requests valid against Glue's API model, each
type once, one that exists already left as it is."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from synchub import aws
from synchub.tables import maintenance
from synchub.tables.maintenance import GlueOptimizers

ROLE = "arn:aws:iam::123456789012:role/synchub-TableOptimizerRole"
LOCATION = "s3://lake/tables/ds_pg_demo__orders"


@pytest.fixture
def glue(monkeypatch):
    client = boto3.client("glue", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    aws.set_client("glue", client)
    monkeypatch.setattr(maintenance, "_optimized", set())
    with Stubber(client) as stubber:
        yield stubber
    aws.reset_clients()


def expect(stubber, kind, error=None):
    params = {
        "CatalogId": "123456789012",
        "DatabaseName": "synchub",
        "TableName": "ds_pg_demo__orders",
        "Type": kind,
        "TableOptimizerConfiguration": maintenance.optimizer_configurations(ROLE, LOCATION, timedelta(hours=72))[kind],
    }
    if error:
        stubber.add_client_error("create_table_optimizer", error, expected_params=params)
    else:
        stubber.add_response("create_table_optimizer", {}, expected_params=params)


def optimizers():
    return GlueOptimizers("synchub", "ds_pg_demo__orders", LOCATION, ROLE, timedelta(hours=72))


def test_each_optimizer_is_turned_on_once(glue):
    for kind in ("compaction", "retention", "orphan_file_deletion"):
        expect(glue, kind)
    assert optimizers().ensure() == ["compaction", "retention", "orphan_file_deletion"]
    assert optimizers().ensure() == []  # a warm engine asks no more
    glue.assert_no_pending_responses()


def test_an_existing_optimizer_is_left_as_it_is(glue):
    expect(glue, "compaction", error="AlreadyExistsException")
    expect(glue, "retention")
    expect(glue, "orphan_file_deletion", error="AlreadyExistsException")
    assert optimizers().ensure() == ["retention"]


def test_the_configurations_match_the_local_maintenance():
    configurations = maintenance.optimizer_configurations(ROLE, LOCATION, timedelta(hours=72))
    retention = configurations["retention"]["retentionConfiguration"]["icebergConfiguration"]
    orphans = configurations["orphan_file_deletion"]["orphanFileDeletionConfiguration"]["icebergConfiguration"]
    assert retention["numberOfSnapshotsToRetain"] == maintenance.SNAPSHOTS_KEPT and retention["cleanExpiredFiles"]
    assert orphans == {"orphanFileRetentionPeriodInDays": 3, "location": LOCATION, "runRateInHours": 24}
    assert all(configuration["roleArn"] == ROLE for configuration in configurations.values())
    short = maintenance.optimizer_configurations(ROLE, LOCATION, timedelta(hours=1))
    assert (
        short["orphan_file_deletion"]["orphanFileDeletionConfiguration"]["icebergConfiguration"][
            "orphanFileRetentionPeriodInDays"
        ]
        == 1
    )  # Glue's least
