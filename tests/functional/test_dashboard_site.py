"""The dashboard's deployment: the Custom::DashboardSite resource of template.yaml, with the properties the
template gives it, publishes dashboard/ and its config to the bucket, keeps releases clean, empties the bucket
on delete, and always answers CloudFormation (under moto, held to the function's IAM statements)."""

from __future__ import annotations

import copy
import io
import json
import uuid
import zipfile
from typing import Any

import boto3
import pytest

from local.template import evaluate
from synchub.dashboard.site import site_files
from tests.conftest import FUNCTIONS, ROOT, TEMPLATE, load_event
from tests.helpers import RecordingEndpoint, StaticContent

DASHBOARD = ROOT / "dashboard"
PUBLISHER = FUNCTIONS["DashboardPublisherFunction"]


def serve_layer_downloads(downloads: StaticContent, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Lambda lets a caller of GetLayerVersion download a version (moto answers "s3://"): ``downloads``,
    at the version's ARN, where :func:`publish_layer` puts each zip."""
    from moto.awslambda.models import LayerVersion

    original = LayerVersion.get_layer_version

    def with_location(version: LayerVersion) -> dict[str, Any]:
        answer = original(version)
        answer["Content"]["Location"] = downloads.url(f"/{version.arn}")
        return answer

    monkeypatch.setattr(LayerVersion, "get_layer_version", with_location)


def publish_layer(stack, downloads: StaticContent, files: dict[str, bytes]) -> str:
    """What sam deploy does with DashboardSite: a new version of the layer, zipped from the folder's files."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, body in files.items():
            zipped.writestr(name, body)
    arn = boto3.client("lambda").publish_layer_version(
        LayerName=f"{stack.name}-site", Content={"ZipFile": archive.getvalue()}
    )["LayerVersionArn"]
    downloads.content[f"/{arn}"] = archive.getvalue()
    return arn


def dashboard_folder() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in DASHBOARD.iterdir() if path.is_file()}


@pytest.fixture
def site(aws, monkeypatch):
    """The bucket from the template, the site published as a layer version, a CloudFront distribution for it,
    and CloudFormation's response URL."""
    downloads = StaticContent({})
    serve_layer_downloads(downloads, monkeypatch)
    aws.refs["DashboardSite"] = publish_layer(aws, downloads, dashboard_folder())
    cloudfront = boto3.client("cloudfront")
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": str(uuid.uuid4()),
            "Comment": "dashboard",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": "site.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "site",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
        }
    )["Distribution"]
    aws.refs["DashboardDistribution"] = distribution["Id"]
    cloudformation = RecordingEndpoint("/cloudformation-response")
    yield aws, cloudformation, downloads
    cloudformation.close()
    downloads.close()


def request(
    stack,
    response_url: str,
    request_type: str = "Create",
    *,
    physical_id: str | None = None,
    parameters: dict[str, Any] | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """events/dashboard_publisher.json with DashboardSiteDeployment's properties as the template resolves them."""
    event = copy.deepcopy(load_event("dashboard_publisher.json"))
    template_properties = TEMPLATE["Resources"]["DashboardSiteDeployment"]["Properties"]
    properties = stack.resolve(evaluate(template_properties, TEMPLATE, {**stack.parameters, **(parameters or {})}))
    properties.update(changes)
    event.update(
        {
            "RequestType": request_type,
            "ResponseURL": response_url,
            "RequestId": str(uuid.uuid4()),
            "ResourceProperties": properties,
        }
    )
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def answered(cloudformation: RecordingEndpoint) -> dict[str, Any]:
    """The one answer CloudFormation got (a PUT without a Content-Type, as its pre-signed URL needs)."""
    assert len(cloudformation.requests) == 1, cloudformation.requests
    sent = cloudformation.requests.pop()
    assert sent["method"] == "PUT" and sent["path"] == "/cloudformation-response"
    assert not sent["headers"].get("content-type")
    return json.loads(sent["body"])


def stored(bucket: str) -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3")
    found = {}
    for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        obj = s3.get_object(Bucket=bucket, Key=entry["Key"])
        found[entry["Key"]] = {"body": obj["Body"].read(), "type": obj["ContentType"], "cache": obj.get("CacheControl")}
    return found


def test_create_publishes_every_file_and_the_stacks_config(site):
    stack, cloudformation, _ = site
    bucket = stack.refs["DashboardBucket"]
    event = request(stack, cloudformation.url)
    PUBLISHER.invoke(event)

    answer = answered(cloudformation)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == f"s3://{bucket}/"
    assert (answer["RequestId"], answer["LogicalResourceId"], answer["StackId"]) == (
        event["RequestId"],
        "DashboardSiteDeployment",
        event["StackId"],
    )
    objects = stored(bucket)
    assert set(objects) == {"index.html", "dashboard/app.js", "dashboard/app.css", "dashboard/config.json"}
    assert answer["Data"] == {"Files": 4}
    for key, found in site_files(DASHBOARD).items():
        assert objects[key]["body"] == found.body
        assert objects[key]["type"] == found.content_type
    assert objects["index.html"]["type"].startswith("text/html")
    assert objects["dashboard/app.js"]["type"].startswith("text/javascript")
    assert all(found["cache"] == "max-age=0, s-maxage=86400" for found in objects.values())
    # Nothing was cached yet, so nothing is invalidated on create.
    distribution = stack.refs["DashboardDistribution"]
    assert (
        boto3.client("cloudfront")
        .list_invalidations(DistributionId=distribution)["InvalidationList"]
        .get("Quantity", 0)
        == 0
    )

    config = json.loads(objects["dashboard/config.json"]["body"])
    api = stack.refs.get("WebSocketApi", "WebSocketApi")
    assert config["api_base"] == ""  # the API is on the dashboard's origin, under /api/*
    assert config["ws_url"] == f"wss://{api}.execute-api.us-east-1.amazonaws.com/v1"
    assert config["auth"] == "cognito"
    sign_in = config["sign_in"]
    assert sign_in["client_id"] == stack.refs.get("DashboardClient", "DashboardClient")
    assert sign_in["authorize_url"].endswith(".auth.us-east-1.amazoncognito.com/oauth2/authorize")
    assert sign_in["token_url"].endswith(".auth.us-east-1.amazoncognito.com/oauth2/token")
    assert sign_in["scope"] == "synchub/read synchub/write"


def test_an_open_stack_has_no_sign_in(site):
    stack, cloudformation, _ = site
    PUBLISHER.invoke(request(stack, cloudformation.url, parameters={"AuthMode": "none"}))
    assert answered(cloudformation)["Status"] == "SUCCESS"
    config = json.loads(stored(stack.refs["DashboardBucket"])["dashboard/config.json"]["body"])
    assert config["auth"] == "none" and "sign_in" not in config


def test_update_removes_an_earlier_releases_files_and_invalidates_cloudfront(site):
    stack, cloudformation, _ = site
    bucket = stack.refs["DashboardBucket"]
    PUBLISHER.invoke(request(stack, cloudformation.url))
    answered(cloudformation)
    boto3.client("s3").put_object(Bucket=bucket, Key="dashboard/chart-v1.js", Body=b"old release")

    PUBLISHER.invoke(request(stack, cloudformation.url, "Update", physical_id=f"s3://{bucket}/"))
    answer = answered(cloudformation)
    assert answer["Status"] == "SUCCESS", answer
    assert "dashboard/chart-v1.js" not in stored(bucket)
    assert set(stored(bucket)) == {"index.html", "dashboard/app.js", "dashboard/app.css", "dashboard/config.json"}
    distribution = stack.refs["DashboardDistribution"]
    invalidation = boto3.client("cloudfront").get_invalidation(
        DistributionId=distribution, Id=answer["Data"]["InvalidationId"]
    )["Invalidation"]
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == ["/*"]


def test_delete_empties_the_versioned_bucket_so_cloudformation_can_delete_it(site):
    stack, cloudformation, _ = site
    bucket = stack.refs["DashboardBucket"]
    s3 = boto3.client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"  # as the template makes it
    for request_type in ("Create", "Update"):
        PUBLISHER.invoke(request(stack, cloudformation.url, request_type, physical_id=f"s3://{bucket}/"))
        answered(cloudformation)
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 8

    PUBLISHER.invoke(request(stack, cloudformation.url, "Delete", physical_id=f"s3://{bucket}/"))
    answer = answered(cloudformation)
    assert answer["Status"] == "SUCCESS" and answer["Data"] == {"Deleted": 8}
    listing = s3.list_object_versions(Bucket=bucket)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    s3.delete_bucket(Bucket=bucket)  # what CloudFormation does next


def test_a_create_that_failed_after_writing_is_rolled_back_to_an_empty_bucket(site, monkeypatch):
    """The failed Create's physical id names the bucket, so its rollback's Delete empties what it wrote and
    CloudFormation can delete the versioned bucket."""
    from synchub.dashboard.publisher import SitePublisher

    stack, cloudformation, _ = site
    bucket = stack.refs["DashboardBucket"]

    def fails_after_the_files(self, *args, **kwargs):
        raise RuntimeError("the config could not be written")

    monkeypatch.setattr(SitePublisher, "_keys", fails_after_the_files)  # every file is already uploaded
    PUBLISHER.invoke(request(stack, cloudformation.url))
    failed = answered(cloudformation)
    assert failed["Status"] == "FAILED" and failed["PhysicalResourceId"] == f"s3://{bucket}/"
    assert stored(bucket)  # written before it failed
    monkeypatch.undo()

    PUBLISHER.invoke(request(stack, cloudformation.url, "Delete", physical_id=failed["PhysicalResourceId"]))
    assert answered(cloudformation)["Status"] == "SUCCESS"
    listing = boto3.client("s3").list_object_versions(Bucket=bucket)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")


def test_deleting_when_the_bucket_is_already_gone_succeeds(site):
    """A failure here would leave the stack in DELETE_FAILED for a bucket that no longer exists."""
    stack, cloudformation, _ = site
    bucket = stack.refs["DashboardBucket"]
    boto3.client("s3").delete_bucket(Bucket=bucket)
    PUBLISHER.invoke(request(stack, cloudformation.url, "Delete", physical_id=f"s3://{bucket}/"))
    answer = answered(cloudformation)
    assert answer["Status"] == "SUCCESS" and answer["Data"] == {"Deleted": 0}, answer


def test_deleting_a_create_that_failed_before_it_had_a_bucket_succeeds_and_touches_nothing(site):
    stack, cloudformation, _ = site
    PUBLISHER.invoke(request(stack, cloudformation.url, "Delete", physical_id="failed-0a1b2c3d"))
    answer = answered(cloudformation)
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "failed-0a1b2c3d"
    assert stored(stack.refs["DashboardBucket"]) == {}


def test_bad_properties_are_answered_failed_with_the_reason_and_write_nothing(site):
    stack, cloudformation, _ = site
    event = request(stack, cloudformation.url)
    event["ResourceProperties"]["Config"]["auth"] = "sometimes"
    PUBLISHER.invoke(event)
    answer = answered(cloudformation)
    assert answer["Status"] == "FAILED"
    assert "Config.auth" in answer["Reason"] and "sometimes" in answer["Reason"]
    assert answer["PhysicalResourceId"] == f"s3://{stack.refs['DashboardBucket']}/"
    assert stored(stack.refs["DashboardBucket"]) == {}


def test_an_aws_failure_is_answered_not_left_for_cloudformation_to_time_out(site):
    stack, cloudformation, _ = site
    boto3.client("s3").delete_bucket(Bucket=stack.refs["DashboardBucket"])  # deleted by hand
    PUBLISHER.invoke(request(stack, cloudformation.url))
    answer = answered(cloudformation)
    assert answer["Status"] == "FAILED" and "NoSuchBucket" in answer["Reason"]


def test_a_rollback_publishes_the_earlier_release_it_names_not_the_one_the_function_runs_with(site):
    stack, cloudformation, downloads = site
    bucket = stack.refs["DashboardBucket"]
    earlier = stack.refs["DashboardSite"]
    newer = publish_layer(
        stack, downloads, {**dashboard_folder(), "index.html": b"<!doctype html><title>newer</title>"}
    )
    PUBLISHER.invoke(request(stack, cloudformation.url, Site=newer))
    answered(cloudformation)
    assert stored(bucket)["index.html"]["body"] == b"<!doctype html><title>newer</title>"

    # The deploy failed later on: CloudFormation sends an Update with the earlier properties.
    PUBLISHER.invoke(request(stack, cloudformation.url, "Update", physical_id=f"s3://{bucket}/", Site=earlier))
    assert answered(cloudformation)["Status"] == "SUCCESS"
    assert stored(bucket)["index.html"]["body"] == (DASHBOARD / "index.html").read_bytes()


def test_a_download_that_does_not_match_the_layers_checksum_is_not_published(site):
    stack, cloudformation, downloads = site
    downloads.content[f"/{stack.refs['DashboardSite']}"] += b"\0"
    PUBLISHER.invoke(request(stack, cloudformation.url))
    answer = answered(cloudformation)
    assert answer["Status"] == "FAILED" and "does not match its CodeSha256" in answer["Reason"]
    assert stored(stack.refs["DashboardBucket"]) == {}
