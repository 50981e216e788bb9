"""Reads template.yaml (the single source of truth) into what the local stack and the tests need."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub, …) into their long form."""


def _construct(tag: str):
    def build(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {"Ref": value} if tag == "Ref" else {f"Fn::{tag}": value}

    return build


for _tag in (
    "Ref",
    "GetAtt",
    "Sub",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "ImportValue",
    "Base64",
    "GetAZs",
    "Condition",
):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template, with its ``Fn::FindInMap`` lookups of literal keys replaced by their values."""
    with open(path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    mappings = template.get("Mappings") or {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and "Fn::FindInMap" in node and all(isinstance(k, str) for k in node["Fn::FindInMap"]):
            name, top, second = node["Fn::FindInMap"]
            return mappings[name][top][second]
        return {key: walk(value) for key, value in node.items()}

    return walk(template)


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    memory: int
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [event.get("Properties", {}) for event in self.events.values() if event.get("Type") == kind]


def functions(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function with the Globals applied."""
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    specs = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        env = copy.deepcopy((globals_.get("Environment") or {}).get("Variables") or {})
        env.update((props.get("Environment") or {}).get("Variables") or {})
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=ROOT / props["CodeUri"],
            handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
            environment=env,
            events=props.get("Events") or {},
        )
    return specs


def layer_dirs(template: dict[str, Any]) -> list[Path]:
    """Source folders of the template's code layers (what Lambda mounts under /opt/python): those sam build
    builds; a layer without a BuildMethod holds files, not code (DashboardSite)."""
    return [
        ROOT / resource["Properties"]["ContentUri"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::LayerVersion" and (resource.get("Metadata") or {}).get("BuildMethod")
    ]


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()}


NO_VALUE = object()


def evaluate(value: Any, template: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """Resolve the template's conditions in ``value``: ``Fn::If`` (with ``AWS::NoValue`` dropping the key or
    item) and the condition functions over parameters, as CloudFormation's LanguageExtensions transform does
    before SAM reads the API's Auth. Other intrinsics are left as they are."""
    conditions = template.get("Conditions") or {}

    def condition(spec: Any) -> bool:
        if isinstance(spec, str):
            return condition(conditions[spec])
        if isinstance(spec, dict) and len(spec) == 1:
            ((name, args),) = spec.items()
            if name == "Fn::Equals":
                left, right = (walk(a) for a in args)
                return str(left) == str(right)
            if name == "Fn::Not":
                return not condition(args[0])
            if name == "Fn::And":
                return all(condition(a) for a in args)
            if name == "Fn::Or":
                return any(condition(a) for a in args)
            if name == "Condition":
                return condition(conditions[args])
        raise ValueError(f"unsupported condition {spec!r}")

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (walk(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((name, args),) = node.items()
            if name == "Fn::If":
                return walk(args[1] if condition(args[0]) else args[2])
            if name == "Ref" and args == "AWS::NoValue":
                return NO_VALUE
            if name == "Ref" and args in parameters:
                return parameters[args]
        return {k: v for k, v in ((k, walk(v)) for k, v in node.items()) if v is not NO_VALUE}

    result = walk(value)
    return None if result is NO_VALUE else result


@dataclass
class ApiAuth:
    """The REST API's authorization as the template sets it for the given parameters."""

    mode: str  # the default authorizer's kind: "cognito", "iam" or "none"
    scopes: frozenset[str]  # the user-pool authorizer's AuthorizationScopes (a token needs one of them)
    public: frozenset[tuple[str, str]]  # (METHOD, path) of events with Authorizer NONE


def api_auth(template: dict[str, Any], parameters: dict[str, Any], api_logical_id: str = "SyncApi") -> ApiAuth:
    api = template["Resources"][api_logical_id]
    auth = evaluate((api.get("Properties") or {}).get("Auth") or {}, template, parameters) or {}
    default = auth.get("DefaultAuthorizer")
    authorizers = auth.get("Authorizers") or {}
    if default == "AWS_IAM":
        mode = "iam"
    elif default and "UserPoolArn" in (authorizers.get(default) or {}):
        mode = "cognito"
    else:
        mode = "none"
    scopes = (
        frozenset((authorizers.get(default) or {}).get("AuthorizationScopes") or [])
        if mode == "cognito"
        else frozenset()
    )
    public = set()
    for spec in functions(template).values():
        for name, event in spec.events.items():
            if event.get("Type") != "Api":
                continue
            props = evaluate(event.get("Properties") or {}, template, parameters) or {}
            if (props.get("Auth") or {}).get("Authorizer") == "NONE":
                public.add((str(props["Method"]).upper(), props["Path"]))
    return ApiAuth(mode, scopes, frozenset(public))
