"""Publishes the dashboard to its S3 bucket (behind CloudFront): the site's files and its config, files of an
earlier release removed, CloudFront's copies invalidated; and empties the bucket when the stack goes."""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from typing import Any

from synchub import aws
from synchub.dashboard.site import CONFIG_KEY, DashboardConfig, SiteFile, site_files_in_zip

# Browsers ask again each time (a 304 when unchanged); CloudFront keeps a day, and each release invalidates it.
CACHE_CONTROL = "max-age=0, s-maxage=86400"
DELETE_BATCH = 1000  # DeleteObjects' limit


def layer_site_files(layer_version_arn: str) -> dict[str, SiteFile]:
    """The site as one version of the DashboardSite layer holds it: the version the request names, which in a
    rollback is the earlier one, not the one this function runs with."""
    layer_arn, _, number = layer_version_arn.rpartition(":")
    version = aws.client("lambda").get_layer_version(LayerName=layer_arn, VersionNumber=int(number))
    content = version["Content"]
    with urllib.request.urlopen(content["Location"], timeout=30) as reply:  # noqa: S310 - Lambda's https URL
        archive = reply.read()
    digest = base64.b64encode(hashlib.sha256(archive).digest()).decode()
    if digest != content["CodeSha256"]:
        raise ValueError(f"the download of {layer_version_arn} does not match its CodeSha256")
    return site_files_in_zip(archive)


class SitePublisher:
    """Writes one stack's dashboard into ``bucket``."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def s3(self) -> Any:
        return aws.client("s3")

    def publish(self, files: dict[str, SiteFile], config: DashboardConfig) -> list[str]:
        """Upload every file of the site and its config; remove what an earlier release left. Returns the keys."""
        for found in files.values():
            self.s3.put_object(
                Bucket=self.bucket,
                Key=found.key,
                Body=found.body,
                ContentType=found.content_type,
                CacheControl=CACHE_CONTROL,
            )
        self.s3.put_object(
            Bucket=self.bucket,
            Key=CONFIG_KEY,
            Body=config.model_dump_json(exclude_none=True).encode(),
            ContentType="application/json",
            CacheControl=CACHE_CONTROL,
        )
        keys = [*files, CONFIG_KEY]
        stale = [key for key in self._keys() if key not in keys]
        self._delete([{"Key": key} for key in stale])
        return keys

    def invalidate(self, distribution_id: str, reference: str) -> str:
        """Drop CloudFront's cached copies of the whole site; returns the invalidation id."""
        answer = aws.client("cloudfront").create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": reference},
        )
        return answer["Invalidation"]["Id"]

    def empty(self) -> int:
        """Delete every object version and delete marker, so CloudFormation can delete the bucket."""
        versions = []
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                versions.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
        self._delete(versions)
        return len(versions)

    def _keys(self) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys.extend(entry["Key"] for entry in page.get("Contents", []))
        return keys

    def _delete(self, objects: list[dict[str, str]]) -> None:
        for start in range(0, len(objects), DELETE_BATCH):
            answer = self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": objects[start : start + DELETE_BATCH], "Quiet": True}
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise RuntimeError(f"could not delete {first.get('Key')} from {self.bucket}: {first.get('Message')}")
