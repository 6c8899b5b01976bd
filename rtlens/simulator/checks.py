"""Small validators for client payloads, raising the real service's error codes.

Each check names the offending field by its full path (`session.audio.input.format.rate`), as
the real `param` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rtlens.simulator import errors
from rtlens.simulator.errors import ClientError


def given(obj: dict[str, Any], keep: Iterable[str] = ()) -> dict[str, Any]:
    """`obj` without its null fields: the API reads `"instructions": null` as not given
    (LiveKit sends it in production, pydantic clients send unset Optionals as null), except
    the `keep` fields, where null means something (`turn_detection: null` turns VAD off)."""
    kept = set(keep)
    return {k: v for k, v in obj.items() if v is not None or k in kept}


def only_keys(obj: dict[str, Any], allowed: Iterable[str], path: str) -> None:
    allowed_set = set(allowed)
    for key in obj:
        if key not in allowed_set:
            raise errors.unknown_parameter(f"{path}.{key}" if path else key)


def need_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.invalid_type(path, "an object", value)
    return value


def need_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise errors.invalid_type(path, "a string", value)
    return value


def need_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise errors.invalid_type(path, "a boolean", value)
    return value


def need_choice(value: Any, choices: list[str], path: str) -> str:
    if value not in choices:
        raise errors.invalid_value(value, choices, path)
    return str(value)


def need_number(
    value: Any,
    path: str,
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
) -> float:
    kind = "integer" if integer else "decimal"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.invalid_type(path, "an integer" if integer else "a number", value)
    if integer and not float(value).is_integer():
        raise errors.invalid_type(path, "an integer", value)
    if low is not None and value < low:
        raise ClientError(
            f"Invalid '{path}': {kind} below minimum value. Expected a value >= {low:g}, but "
            f"got {value:g} instead.",
            f"{kind}_below_min_value",
            path,
        )
    if high is not None and value > high:
        raise ClientError(
            f"Invalid '{path}': {kind} above maximum value. Expected a value <= {high:g}, but "
            f"got {value:g} instead.",
            f"{kind}_above_max_value",
            path,
        )
    return value


def need_tools(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise errors.invalid_type(path, "an array", value)
    for i, tool in enumerate(value):
        where = f"{path}[{i}]"
        need_object(tool, where)
        kind = tool.get("type", "function")
        need_choice(kind, ["function", "mcp"], f"{where}.type")
        if kind == "function":
            only_keys(tool, ["type", "name", "description", "parameters"], where)
            if not tool.get("name"):
                raise errors.missing_parameter(f"{where}.name")
    return value


def need_tool_choice(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        need_choice(value.get("type"), ["function", "mcp"], f"{path}.type")
        return value
    return need_choice(value, ["auto", "none", "required"], path)


def need_max_tokens(value: Any, path: str) -> int | str:
    if value == "inf":
        return "inf"
    return int(need_number(value, path, 1, 4096, integer=True))
