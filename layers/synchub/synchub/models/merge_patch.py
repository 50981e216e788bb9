"""JSON Merge Patch (RFC 7396): a partial update is the resource as shown, with the patch merged into it,
validated as a full replacement would be."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from synchub.errors import ValidationFailed

Model = TypeVar("Model", bound=BaseModel)


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` merged in: objects merge key by key, ``null`` removes a key, anything else
    replaces what was there."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def patched(model: type[Model], shown: dict[str, Any], patch: dict[str, Any]) -> Model:
    """``shown`` patched and validated as ``model`` (422 naming the fields when the result is not valid)."""
    try:
        return model.model_validate(merge_patch(shown, patch))
    except ValidationError as error:
        raise ValidationFailed(
            "The patched resource is not valid; see 'errors'.",
            errors=[
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in error.errors(include_url=False)
            ],
        ) from error
