"""JSON Merge Patch (RFC 7386) and JSON Patch (RFC 6902) applied to a document."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from lodestar.catalog.errors import Conflict, InvalidInput


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise InvalidInput(
            "a JSON Patch body is an array of operations, e.g. "
            '[{"op": "replace", "path": "/description", "value": "..."}]'
        )
    try:
        result = jsonpatch.JsonPatch(ops).apply(target)
    except jsonpatch.JsonPatchTestFailed as e:
        raise Conflict(f"JSON Patch test failed: {e}") from None
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
        raise InvalidInput(f"cannot apply the JSON Patch: {e}") from None
    except (TypeError, KeyError, IndexError, ValueError, AttributeError) as e:
        raise InvalidInput(f"cannot apply the JSON Patch: {e!r}") from None
    if not isinstance(result, dict):
        raise InvalidInput("the JSON Patch must leave an object")
    return result
