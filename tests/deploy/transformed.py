"""template.yaml as CloudFormation deploys it: the AWS::LanguageExtensions transform resolves what the
parameters decide (the API's DefaultAuthorizer is an ``Fn::If`` on AuthMode, which plain SAM refuses), the SAM
translator expands the serverless resources, and the conditions drop what the parameters leave out.

Needs the SAM translator (aws-sam-translator, in the tools virtualenv beside aws-sam-cli)."""

from __future__ import annotations

import copy
import logging
import os
from collections import Counter
from functools import lru_cache
from typing import Any

from local.template import evaluate, load_template, parameter_defaults

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
# Every AuthMode with the dashboard on, and the brand-new-account setting (no CloudFront) with an alarm e-mail.
PARAMETER_SETS: dict[str, dict[str, Any]] = {
    "cognito": {"AuthMode": "cognito"},
    "iam": {"AuthMode": "iam"},
    "none": {"AuthMode": "none"},
    "cognito-no-dashboard": {"AuthMode": "cognito", "EnableDashboard": "false", "AlarmEmail": "ops@example.com"},
    "cognito-snapstart": {"AuthMode": "cognito", "ApiSnapStart": "on"},
}
PACKAGED = {"CodeUri", "ContentUri"}  # local folders that `sam deploy` uploads; the translator wants S3 URIs


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only for policy names; the template uses none."""

    def load(self) -> dict[str, str]:
        return {}


def resolve_language_extensions(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """What CloudFormation's AWS::LanguageExtensions transform hands to the SAM transform: intrinsic functions
    whose value the parameters decide (Fn::If on parameter conditions, Ref to a parameter) resolved."""
    document = copy.deepcopy(template)
    transforms = document.get("Transform") or []
    transforms = [transforms] if isinstance(transforms, str) else transforms
    if LANGUAGE_EXTENSIONS in transforms:
        document["Resources"] = evaluate(document["Resources"], document, parameters)
        document["Outputs"] = evaluate(document.get("Outputs") or {}, document, parameters)
    document["Transform"] = [t for t in transforms if t != LANGUAGE_EXTENSIONS]
    return document


def sam_translate(document: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The SAM transform's output (raises the translator's InvalidDocumentException on what SAM refuses)."""
    from samtranslator.translator.transform import transform

    document = copy.deepcopy(document)
    for resource in document["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in PACKAGED & set(properties):
            if isinstance(properties[key], str):
                properties[key] = f"s3://deployment-bucket/{properties[key]}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its feature-toggle and metrics chatter
    return transform(document, parameters, _NoManagedPolicies())


def effective(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The resources and outputs CloudFormation creates for ``parameters``: those whose condition holds, with
    every Fn::If and parameter Ref resolved."""
    conditions = {
        name: evaluate({"Fn::If": [name, True, False]}, template, parameters)
        for name in template.get("Conditions") or {}
    }
    kept = {
        section: {
            name: item
            for name, item in (template.get(section) or {}).items()
            if conditions.get(item.get("Condition"), True)
        }
        for section in ("Resources", "Outputs")
    }
    return {**template, **{section: evaluate(items, template, parameters) for section, items in kept.items()}}


@lru_cache(maxsize=None)
def deployed(name: str) -> dict[str, Any]:
    """template.yaml as deployed with the named parameter set (see PARAMETER_SETS)."""
    return deployed_from(load_template(), PARAMETER_SETS[name])


def deployed_from(template: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    parameters = {**parameter_defaults(template), **overrides}
    translated = sam_translate(resolve_language_extensions(template, parameters), parameters)
    return effective(translated, parameters)


def resource_counts(template: dict[str, Any]) -> Counter:
    return Counter(resource["Type"] for resource in template["Resources"].values())
