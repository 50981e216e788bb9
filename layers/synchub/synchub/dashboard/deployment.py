"""The ``Custom::DashboardSite`` resource: CloudFormation asks, the publisher acts, the answer goes back to the
pre-signed ``ResponseURL`` (always, also on failure: an unanswered request would hold the stack for the
resource's ServiceTimeout)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synchub.dashboard.publisher import SitePublisher, layer_site_files
from synchub.dashboard.site import DashboardConfig
from synchub.observability import logger

PHYSICAL_ID_PREFIX = "s3://"


class DashboardSiteProperties(BaseModel):
    """The resource's properties in template.yaml."""

    model_config = ConfigDict(extra="ignore")  # ServiceToken, ServiceTimeout

    # The DashboardSite layer version with the files; a new version is what makes CloudFormation send an Update.
    site: str = Field(alias="Site", pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
    bucket: str = Field(alias="Bucket", min_length=3)
    distribution_id: str = Field(default="", alias="DistributionId")
    config: DashboardConfig = Field(alias="Config")


def physical_id(bucket: str) -> str:
    return f"{PHYSICAL_ID_PREFIX}{bucket}/"


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """Carry out one Create, Update or Delete and answer CloudFormation; returns the answer sent.

    The physical id names the bucket from the first request on, also when a Create fails after writing some
    files, so the Delete of its rollback empties the bucket, which CloudFormation then deletes. A Delete of a
    bucket that is already gone succeeds: there is nothing left to do, and a failure would block the stack's
    deletion."""
    request = CloudFormationCustomResourceEvent(event)
    named = (request.resource_properties or {}).get("Bucket")
    named = named if isinstance(named, str) and named else None
    resource_id = request.physical_resource_id or (physical_id(named) if named else f"failed-{request.request_id}")
    data: dict[str, Any] = {}
    try:
        if request.request_type == "Delete":
            bucket = _bucket_of(resource_id)
            if bucket:
                data["Deleted"] = _empty_unless_gone(bucket)
        else:
            properties = DashboardSiteProperties.model_validate(request.resource_properties)
            publisher = SitePublisher(properties.bucket)
            keys = publisher.publish(layer_site_files(properties.site), properties.config)
            resource_id = physical_id(properties.bucket)
            data["Files"] = len(keys)
            if request.request_type == "Update" and properties.distribution_id:
                data["InvalidationId"] = publisher.invalidate(properties.distribution_id, request.request_id)
        answer = _answer(request, "SUCCESS", resource_id, data=data)
    except ValidationError as error:
        logger.error("dashboard site: bad properties", extra={"errors": error.errors(include_url=False)})
        answer = _answer(request, "FAILED", resource_id, reason=f"Bad DashboardSite properties: {error}")
    except Exception as error:
        logger.exception("dashboard site: %s failed", request.request_type)
        answer = _answer(request, "FAILED", resource_id, reason=f"{type(error).__name__}: {error}")
    send_response(request.response_url, answer)
    logger.info(
        "dashboard site: answered",
        extra={
            "request_type": request.request_type,
            "status": answer["Status"],
            "physical_resource_id": resource_id,
            **data,
        },
    )
    return answer


def _bucket_of(resource_id: str) -> str | None:
    if resource_id.startswith(PHYSICAL_ID_PREFIX):
        return resource_id[len(PHYSICAL_ID_PREFIX) :].rstrip("/") or None
    return None


def _empty_unless_gone(bucket: str) -> int:
    try:
        return SitePublisher(bucket).empty()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
            logger.info("dashboard site: the bucket is already gone", extra={"bucket": bucket})
            return 0
        raise


def _answer(
    request: CloudFormationCustomResourceEvent,
    status: str,
    resource_id: str,
    *,
    data: dict[str, Any] | None = None,
    reason: str = "",
) -> dict[str, Any]:
    answer = {
        "Status": status,
        "PhysicalResourceId": resource_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "Data": data or {},
    }
    if reason:
        # CloudFormation shows the reason in the stack's events; the whole answer must stay under 4 KB.
        answer["Reason"] = reason[:1000]
    return answer


def send_response(url: str, answer: dict[str, Any]) -> None:
    """PUT the answer to CloudFormation's pre-signed S3 URL (no Content-Type: the URL was signed without one)."""
    body = json.dumps(answer).encode()
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - CloudFormation's https URL
        reply.read()
