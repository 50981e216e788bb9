"""``python -m local.openapi [--check]``: the OpenAPI 3.1 document of the whole API, generated from the code.

Each route function's Powertools resolver documents its own route (parameters and bodies from the pydantic
models, answers from the route decorator); this merges them in template order and adds what every route
shares: the auth schemes and the route's scope (``synchub.auth.callers``), and the problem answers of the
resolver and API Gateway (400/413/415 for bodies, 401, 403, 422, 429, 503). The result is written to
``layers/synchub/synchub/api/openapi.json``, which ``GET /api/sync/openapi.json`` serves; ``--check``
fails when the checked-in file differs from what the code generates.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator, get_args, get_origin, get_type_hints

from local.template import ROOT, functions, layer_dirs, load_template

OUTPUT = ROOT / "layers/synchub/synchub/api/openapi.json"
DESCRIPTION = (
    "Create sync tasks (copy a data source fully, incrementally or continuously), watch their live progress, "
    "update, cancel, retry, delete and summarise them; manage data sources and their interfaces. Errors are "
    "RFC 9457 problem details. Deployed, send an access token of the stack's Cognito user pool "
    "(`Authorization: Bearer <token>`): read routes need scope `synchub/read`, the others `synchub/write`."
)


def _route_apps(template: dict[str, Any]) -> list[Any]:
    for directory in layer_dirs(template):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    from local.lambda_runtime import LocalFunction

    apps = []
    for spec in functions(template).values():
        if not spec.events_of("Api"):
            continue
        LocalFunction(spec).handler()
        apps.append(sys.modules[f"synchub_fn_{spec.logical_id}"].app)
    return apps


@contextmanager
def _powertools_params(app: Any) -> Iterator[None]:
    """Document the routes as Powertools documents its own: while the document is made, each route function's
    signature carries Powertools' Query, Header and Body in place of the light markers of synchub.api.params
    (with the same constraints), which the functions validate with at run time, and each answer its model
    class in place of the model's name."""
    from aws_lambda_powertools.event_handler.openapi import params as powertools

    from synchub.api import params as light
    from synchub.models import responses as models

    kinds = {light.Query: powertools.Query, light.Header: powertools.Header, light.Body: powertools.Body}
    changed, named = [], []
    for route in [*app._static_routes, *app._dynamic_routes]:
        for answer in (route.responses or {}).values():  # answers name their model (synchub.api.openapi)
            for media in (answer.get("content") or {}).values():
                if isinstance(media.get("model"), str):
                    named.append((media, media["model"]))
                    media["model"] = getattr(models, media["model"])
        function = route.func
        hints = get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
        parameters = []
        for name, parameter in signature.parameters.items():
            hint = hints.get(name, parameter.annotation)
            if get_origin(hint) is Annotated:
                kind, *metadata = get_args(hint)
                metadata = [kinds[type(m)](**m.constraints) if type(m) in kinds else m for m in metadata]
                hint = Annotated[(kind, *metadata)]
            parameters.append(parameter.replace(annotation=hint))
        function.__signature__ = signature.replace(parameters=parameters)
        changed.append(function)
    try:
        yield
    finally:
        for function in changed:
            del function.__signature__
        for media, name in named:
            media["model"] = name


def _with_shared_answers(method: str, operation: dict[str, Any]) -> dict[str, Any]:
    from synchub.api.openapi import PROBLEMS
    from synchub.auth.callers import READ_SCOPE, WRITE_SCOPE, required_scope

    problem = {"$ref": "#/components/schemas/Problem"}
    answers = operation.setdefault("responses", {})
    if "204" in answers:
        answers["204"].pop("content", None)  # Powertools gives every answer a JSON body; 204 has none
    shared = [401, 403, 422, 429, 503] + ([400, 413, 415] if "requestBody" in operation else [])
    for status in shared:
        description = PROBLEMS.get(status, "Too many requests; retry after Retry-After seconds")
        if status == 422 or str(status) not in answers:
            answers[str(status)] = {
                "description": description,
                "content": {"application/problem+json": {"schema": problem}},
            }
    operation["responses"] = dict(sorted(answers.items()))
    scope = required_scope(method)
    assert scope in (READ_SCOPE, WRITE_SCOPE)
    operation["security"] = [{"userPool": [scope]}, {"bearerToken": []}]
    return operation


def _template_path(path: str, resources: list[str]) -> tuple[str, dict[str, str]]:
    """The template's resource for a handler's path, and the renaming of its path parameters
    (the template names them ``{id}``, the handlers ``<task_id>``): routes come from the template."""
    segments = path.strip("/").split("/")
    for resource in resources:
        candidate = resource.strip("/").split("/")
        if len(candidate) != len(segments):
            continue
        names = {}
        for mine, theirs in zip(segments, candidate):
            if mine.startswith("{") and theirs.startswith("{"):
                names[mine[1:-1]] = theirs[1:-1]
            elif mine != theirs:
                break
        else:
            return resource, names
    raise AssertionError(f"{path} is not a route of template.yaml")


def _renamed(operation: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            parameter["name"] = names.get(parameter["name"], parameter["name"])
    return operation


def generate(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merged document (deterministic: same code, same bytes)."""
    template = template or load_template()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    resources = sorted({props["Path"] for spec in functions(template).values() for props in spec.events_of("Api")})
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for app in _route_apps(template):
        with _powertools_params(app):
            document = json.loads(app.get_openapi_json_schema(title="SyncHub", version=version))
        for handler_path, operations in document.get("paths", {}).items():
            path, names = _template_path(handler_path, resources)
            for method, operation in operations.items():
                assert method not in paths.get(path, {}), f"two functions serve {method.upper()} {path}"
                paths.setdefault(path, {})[method] = _with_shared_answers(method, _renamed(operation, names))
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            assert schemas.get(name, schema) == schema, f"two different schemas are called {name}"
            schemas[name] = schema
    from synchub.models.responses import Problem

    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for nested, schema in schemas["Problem"].pop("$defs", {}).items():
        schemas.setdefault(nested, schema)
    text = json.dumps(paths)
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"#/components/schemas/{unused}" not in text:
            schemas.pop(unused, None)
    from synchub.auth.callers import READ_SCOPE, WRITE_SCOPE

    return {
        "openapi": "3.1.0",
        "info": {"title": "SyncHub", "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": "tasks"}, {"name": "data-sources"}, {"name": "interfaces"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "userPool": {
                    "type": "oauth2",
                    "description": "Client-credentials tokens of the stack's Cognito user pool (output TokenUrl).",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "https://example.auth.us-east-1.amazoncognito.com/oauth2/token",
                            "scopes": {
                                READ_SCOPE: "read tasks, statistics, data sources and interfaces",
                                WRITE_SCOPE: "create, change, cancel, retry and delete them",
                            },
                        }
                    },
                },
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token of the user pool, pasted as it is.",
                },
            },
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the checked-in document is out of date")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is up to date")
        return 0
    Path(OUTPUT).write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(json.loads(text)['paths'])} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
