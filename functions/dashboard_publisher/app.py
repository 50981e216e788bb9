"""Custom::DashboardSite: publishes the dashboard (a version of the DashboardSite layer) to its S3 bucket.

CloudFormation waits for an answer to every request (and rollback and delete wait with it), so this module
imports only the standard library: if the layer cannot be imported, the request is still answered - FAILED
for a Create or Update, with the reason; SUCCESS for a Delete, whose bucket then reports anything left in it.
"""

import json
import urllib.request


def lambda_handler(event: dict, context: object) -> dict:
    try:
        from synchub.dashboard.deployment import handle  # the layer: Powertools, pydantic, the publisher
    except Exception as error:  # noqa: BLE001 - whatever failed, CloudFormation must get its answer
        return answer_without_layer(event, f"the function could not load its code: {type(error).__name__}: {error}")
    return handle(event)


def answer_without_layer(event: dict, reason: str) -> dict:
    """Answer CloudFormation with the standard library alone; returns the answer sent."""
    bucket = (event.get("ResourceProperties") or {}).get("Bucket")
    resource_id = event.get("PhysicalResourceId") or (
        f"s3://{bucket}/" if isinstance(bucket, str) and bucket else f"failed-{event.get('RequestId')}"
    )
    answer = {
        "Status": "SUCCESS" if event.get("RequestType") == "Delete" else "FAILED",
        "Reason": reason[:1000],
        "PhysicalResourceId": resource_id,
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "Data": {},
    }
    print(json.dumps({"level": "ERROR", "message": "dashboard site: answered without the layer", **answer}))
    body = json.dumps(answer).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - CloudFormation's https URL
        reply.read()
    return answer
