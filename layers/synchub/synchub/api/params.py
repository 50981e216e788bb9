"""Where a route's inputs come from, and their validation with the route's own pydantic types.

A route declares each input in its signature, ``size: Annotated[int, Query(ge=1, le=100)] = 10`` or
``request: Annotated[CreateTaskRequest, Body()]``. These markers are light: at run time each input is
validated by a pydantic ``TypeAdapter`` built once per route, instead of Powertools' OpenAPI validation layer
(about 0.1 s of a cold start). ``make openapi`` (local/openapi.py) swaps them for Powertools' own parameters
to generate the OpenAPI document from the same annotations, so the document and the checks cannot drift.

Errors keep the shape the API has always answered: ``loc`` starts with where the input is (``body``,
``query``, ``header``), and a body that is not JSON is a ``json_invalid`` error (400, not 422).
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Callable, get_args, get_origin, get_type_hints

from pydantic import Field, TypeAdapter, ValidationError

FORM = "application/x-www-form-urlencoded"


class Param:
    """An input of a route: where it is, and its constraints (pydantic ``Field`` keyword arguments)."""

    location = ""

    def __init__(self, **constraints: Any) -> None:
        self.constraints = constraints

    @property
    def alias(self) -> str | None:
        return self.constraints.get("alias")


class Query(Param):
    location = "query"


class Header(Param):
    location = "header"


class Body(Param):
    location = "body"


class InvalidRequest(Exception):
    """The request does not fit the route's inputs; ``errors`` in pydantic's shape, ``loc`` from the top."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid input(s)")
        self.errors = errors


@dataclass(frozen=True)
class Input:
    name: str
    location: str
    key: str  # the query parameter's or header's name
    adapter: TypeAdapter
    required: bool
    default: Any


@lru_cache(maxsize=None)
def inputs_of(function: Callable[..., Any]) -> tuple[Input, ...]:
    """The declared inputs of a route function (built on its first request)."""
    hints = get_type_hints(function, include_extras=True)
    found = []
    for name, parameter in inspect.signature(function).parameters.items():
        hint = hints.get(name)
        if get_origin(hint) is not Annotated:
            continue
        kind, *metadata = get_args(hint)
        markers = [m for m in metadata if isinstance(m, Param)]
        if not markers:
            continue
        marker = markers[0]
        constraints = {k: v for k, v in marker.constraints.items() if k not in ("alias", "description")}
        adapter = TypeAdapter(Annotated[kind, Field(**constraints)] if constraints else kind)
        required = parameter.default is inspect.Parameter.empty
        found.append(
            Input(
                name=name,
                location=marker.location,
                key=marker.alias or name,
                adapter=adapter,
                required=required,
                default=None if required else parameter.default,
            )
        )
    return tuple(found)


def validated_inputs(function: Callable[..., Any], event: dict[str, Any]) -> dict[str, Any]:
    """The route's declared inputs from an API Gateway proxy event, validated; raises InvalidRequest."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for item in inputs_of(function):
        if item.location == "body":
            loc: tuple[Any, ...] = ("body",)
            raw = _body(event)
        else:
            loc = (item.location, item.key.lower() if item.location == "header" else item.key)
            raw = _query(event, item.key) if item.location == "query" else _header(event, item.key)
        if raw is None:
            if item.required:
                errors.append({"type": "missing", "loc": loc, "msg": "Field required", "input": None})
            else:
                values[item.name] = item.default
            continue
        try:
            values[item.name] = item.adapter.validate_python(raw, from_attributes=True)
        except ValidationError as error:
            errors.extend({**e, "loc": (*loc, *e["loc"])} for e in error.errors(include_url=False))
    errors.extend(_unknown_query_parameters(function, event))
    if errors:
        raise InvalidRequest(errors)
    return values


def _unknown_query_parameters(function: Callable[..., Any], event: dict[str, Any]) -> list[dict[str, Any]]:
    """An error for each query parameter the route does not take: a misspelt filter must not silently
    widen the answer."""
    known = sorted(item.key for item in inputs_of(function) if item.location == "query")
    given = {**(event.get("multiValueQueryStringParameters") or {}), **(event.get("queryStringParameters") or {})}
    takes = f"this route takes {', '.join(known)}" if known else "this route takes none"
    return [
        {
            "type": "extra_forbidden",
            "loc": ("query", name),
            "input": value,
            "msg": f"Unknown query parameter '{name}' ({takes})",
        }
        for name, value in sorted(given.items())
        if name not in known
    ]


def _body(event: dict[str, Any]) -> Any:
    """The JSON body (None when there is none; a form content type with no body reads as an empty form)."""
    body = event.get("body")
    if not body:
        content_type = _header(event, "content-type") or ""
        return {} if content_type.strip().startswith(FORM) else None
    if event.get("isBase64Encoded"):
        import base64  # noqa: PLC0415 - only API Gateway's binary bodies need it

        body = base64.b64decode(body).decode("utf-8")
    if _nesting(body) > MAX_BODY_DEPTH:
        raise InvalidRequest(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": f"nested too deeply (more than {MAX_BODY_DEPTH} levels)"},
                }
            ]
        )
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidRequest(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", error.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": error.msg},
                }
            ]
        ) from error
    except RecursionError as error:  # arrays or objects nested thousands deep
        raise InvalidRequest(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": "nested too deeply"},
                }
            ]
        ) from error


# Arrays and objects a body may nest, checked before parsing (stored free-form JSON allows 32 levels below
# the body's own few).
MAX_BODY_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _nesting(body: str) -> int:
    """How deep the body's arrays and objects nest (brackets inside strings do not count)."""
    if body.count("[") + body.count("{") <= MAX_BODY_DEPTH:
        return 0  # too few brackets to nest that deep: most bodies stop here
    depth = deepest = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub("", body)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _query(event: dict[str, Any], name: str) -> Any:
    """A query parameter: its one value, or every value when the name was repeated (a list, which a scalar
    input refuses)."""
    repeated = (event.get("multiValueQueryStringParameters") or {}).get(name)
    if isinstance(repeated, list) and len(repeated) > 1:
        return repeated
    single = (event.get("queryStringParameters") or {}).get(name)
    if single is None and isinstance(repeated, list) and repeated:
        return repeated[0]
    return single


def _header(event: dict[str, Any], name: str) -> Any:
    wanted = name.lower()
    repeated = next((v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() == wanted), None)
    if isinstance(repeated, list) and len(repeated) > 1:
        return repeated
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == wanted), None)
