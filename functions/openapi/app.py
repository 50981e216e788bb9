"""GET /api/sync/openapi.json and GET /api/sync/docs: the API's OpenAPI 3.1 document and Swagger UI, whose files
GET /api/sync/docs/{asset} serves (public)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.docs import docs_csp, openapi_document, swagger_asset, swagger_page
from synchub.errors import NotFound
from synchub.observability import logger

app = create_app(public=True)


@app.get("/api/sync/openapi.json", include_in_schema=False)
def openapi_json():
    return json_response(200, openapi_document(app.current_event.raw_event), headers={"Cache-Control": "max-age=300"})


@app.get("/api/sync/docs", include_in_schema=False)
def docs():
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=swagger_page(app.current_event.raw_event),
        headers={"Cache-Control": "max-age=300", "Content-Security-Policy": docs_csp()},
    )


@app.get("/api/sync/docs/<asset>", include_in_schema=False)
def docs_asset(asset: str):
    found = swagger_asset(asset)
    if found is None:
        raise NotFound(f"Swagger UI has no file '{asset}'.")
    body, content_type = found
    return Response(status_code=200, content_type=content_type, body=body, headers={"Cache-Control": "max-age=86400"})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
