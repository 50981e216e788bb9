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


for _tag in ("Ref", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
             "FindInMap", "ImportValue", "Base64", "GetAZs", "Condition"):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


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
    """Source folders of the template's layers (what Lambda mounts under /opt/python)."""
    return [
        ROOT / resource["Properties"]["ContentUri"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    ]


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()}
