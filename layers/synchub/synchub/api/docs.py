"""The API's own documentation: the generated OpenAPI document (``openapi.json`` next to this module,
written by ``python -m local.openapi``) with the caller's base URL, and a Swagger UI page for it."""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from synchub.settings import get_settings

# Swagger UI's files come from the swagger-ui-bundle-v2 package (the OpenAPI function's own requirement, so
# no other function ships them), served by that function: the page loads nothing from a third party.
SWAGGER_UI_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}
# The page's own start-up script, a file too, so the page runs no inline script: it reads the document's address
# from its <script> element.
SWAGGER_INIT = "swagger-init.js"
_INIT_SCRIPT = """window.ui = SwaggerUIBundle({url: document.currentScript.dataset.document, dom_id: "#swagger-ui",
                              deepLinking: true, persistAuthorization: true});
"""


def docs_csp() -> str:
    """The docs page's Content-Security-Policy: scripts and styles from the API itself (Swagger UI sets inline
    style attributes, and draws icons as data: images), requests to the API and the user pool's token URL."""
    token_url = get_settings().token_url
    token_origin = "/".join(token_url.split("/", 3)[:3]) if token_url else ""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src 'self' {token_origin}".rstrip()
        + "; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


@lru_cache(maxsize=1)
def _stored_document() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("openapi.json")).read_text(encoding="utf-8"))


# Set by the dashboard's CloudFront distribution on requests it forwards to the API: there the API is at the
# origin's root (/api/sync/...), while API Gateway still sees the stage in the path (/v1/api/sync/...).
BASE_PATH_HEADER = "x-synchub-base-path"
_SAFE_BASE_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*/?$")


def base_path(event: dict[str, Any]) -> str:
    """The prefix in front of the route as the caller sees it: ``/v1`` on the execute-api domain, the base
    path of a custom domain, nothing through the dashboard's CloudFront origin or locally."""
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    announced = headers.get(BASE_PATH_HEADER)
    if isinstance(announced, str) and _SAFE_BASE_PATH.match(announced):
        return announced.rstrip("/")
    context = event.get("requestContext") or {}
    seen, route = str(context.get("path") or ""), str(event.get("path") or "")
    return seen[: -len(route)].rstrip("/") if route and seen.endswith(route) else ""


def openapi_document(event: dict[str, Any]) -> dict[str, Any]:
    """The document, its server set to where the caller reached the API and its token URL to the stack's."""
    document = copy.deepcopy(_stored_document())
    document["servers"] = [{"url": base_path(event) or "/"}]
    token_url = get_settings().token_url
    if token_url:
        flows = document["components"]["securitySchemes"]["userPool"]["flows"]
        flows["clientCredentials"]["tokenUrl"] = token_url
    return document


def swagger_page(event: dict[str, Any]) -> str:
    """The Swagger UI page, its files and the document addressed where the caller reached the API."""
    assets = f"{base_path(event)}/api/sync/docs"
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>SyncHub API</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script src="{assets}/{SWAGGER_INIT}" data-document="{base_path(event)}/api/sync/openapi.json"></script>
</body>
</html>
"""


def swagger_asset(name: str) -> tuple[str, str] | None:
    """(text, content type) of one of Swagger UI's files, or None for any other name."""
    if name == SWAGGER_INIT:
        return _INIT_SCRIPT, "text/javascript; charset=utf-8"
    content_type = SWAGGER_UI_ASSETS.get(name)
    if content_type is None:
        return None
    import swagger_ui_bundle  # noqa: PLC0415 - only the OpenAPI function has it, and only this route needs it

    return (Path(str(swagger_ui_bundle.swagger_ui_path)) / name).read_text(encoding="utf-8"), content_type
