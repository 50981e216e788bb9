"""The OpenAPI document: generated from the code, checked in equal, served publicly, and true to the answers."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from local.openapi import OUTPUT, generate, render
from tests.conftest import ROUTES, ApiClient, load_event

DOCS = {("GET", "/api/sync/openapi.json"), ("GET", "/api/sync/docs"), ("GET", "/api/sync/docs/{asset}")}


@pytest.fixture(scope="module")
def document():
    return generate()


def test_checked_in_document_equals_the_generated_one(document):
    assert OUTPUT.read_text() == render(document), (
        "run `make openapi` and commit layers/synchub/synchub/api/openapi.json"
    )


def test_document_is_openapi_3_1_and_lists_every_route(document):
    assert document["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = {(r.method, r.resource) for r in ROUTES} - DOCS
    assert documented == served
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert any(code.startswith("2") for code in answers), (method, path)
            assert {"401", "403", "422", "503"} <= set(answers), (method, path)
            scope = "synchub/read" if method == "get" else "synchub/write"
            assert operation["security"][0] == {"userPool": [scope]}
            problem = answers["422"]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/Problem"}


def test_document_and_swagger_ui_are_public(aws):
    anonymous = ApiClient(token=None)
    served = anonymous.get("/api/sync/openapi.json")
    assert served.status == 200 and served.json["paths"] == json.loads(OUTPUT.read_text())["paths"]
    assert served.json["servers"] == [{"url": "/"}]  # the local stack serves the API at the root
    page = anonymous.get("/api/sync/docs")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in page.text and 'data-document="/api/sync/openapi.json"' in page.text
    # everything the page loads is served by the API itself, nothing by a third party, and no script is inline
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert loaded == [
        "/api/sync/docs/swagger-ui.css",
        "/api/sync/docs/swagger-ui-bundle.js",
        "/api/sync/docs/swagger-init.js",
    ], loaded
    assert page.text.count("<script") == 2 and "<script>" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    for path, kind in zip(loaded[:2], ("text/css", "text/javascript")):
        asset = anonymous.get(path)
        assert asset.status == 200 and asset.headers["content-type"].startswith(kind) and len(asset.text) > 100_000
    assert "SwaggerUIBundle" in anonymous.get(loaded[1]).text
    start = anonymous.get(loaded[2])
    assert start.status == 200 and start.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in start.text and "dataset.document" in start.text
    missing = anonymous.get("/api/sync/docs/secrets.txt")
    assert missing.status == 404 and missing.headers["content-type"] == "application/problem+json"


def test_deployed_document_points_at_the_stage(aws):
    from tests.conftest import FUNCTIONS

    result = FUNCTIONS["OpenApiFunction"].invoke(load_event("openapi.json"))
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["servers"] == [{"url": "/v1"}]


def test_document_served_through_the_dashboards_cloudfront_points_at_its_root(aws):
    """CloudFront forwards /api/* to the v1 stage (OriginPath /v1): API Gateway still sees /v1 in the path, so
    only the origin's header can say that "Try it out" must call /api/sync/... on the distribution's domain."""
    from local.template import load_template
    from tests.conftest import FUNCTIONS

    origins = load_template()["Resources"]["DashboardDistribution"]["Properties"]["DistributionConfig"]["Origins"]
    (api_origin,) = [o for o in origins if o["Id"] == "api"]
    (header,) = api_origin["OriginCustomHeaders"]
    event = load_event("openapi.json")
    event["headers"] = {**event["headers"], header["HeaderName"]: header["HeaderValue"]}
    result = FUNCTIONS["OpenApiFunction"].invoke(event)
    assert json.loads(result["body"])["servers"] == [{"url": "/"}]
    event["headers"][header["HeaderName"]] = "javascript:alert(1)"  # not a path: ignored
    assert json.loads(FUNCTIONS["OpenApiFunction"].invoke(event)["body"])["servers"] == [{"url": "/v1"}]


def answer_matches_the_document(method: str, resource: str, response) -> None:
    """The answer's status is documented for the route, and its body validates against the document."""
    document = json.loads(OUTPUT.read_text())
    answers = document["paths"][resource][method.lower()]["responses"]
    assert str(response.status) in answers, (method, resource, response.status)
    if response.text:
        media = "application/problem+json" if response.status >= 400 else "application/json"
        schema = {**answers[str(response.status)]["content"][media]["schema"], "components": document["components"]}
        jsonschema.validate(response.json, schema)


def test_problem_answers_match_the_document(api, data_source):
    """Refusals, validation failures and unknown ids: problem details as documented."""
    answer_matches_the_document("GET", "/api/sync/tasks", ApiClient(token=None).get("/api/sync/tasks"))
    answer_matches_the_document("POST", "/api/sync/tasks", api.post("/api/sync/tasks", {"task_type": "nope"}))
    answer_matches_the_document(
        "GET", "/api/sync/tasks/{id}", api.get("/api/sync/tasks/task_01M8F5WN6MGNT4KP4MPE6TDYBH")
    )
    answer_matches_the_document("POST", "/api/sync/tasks", api.post("/api/sync/tasks", body="{not json"))
