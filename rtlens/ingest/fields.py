"""Typed reads of event fields that never raise: a field of the wrong type is reported to
`ingest_errors` (with the line number) and read as missing, so the rest still loads."""

from __future__ import annotations

from typing import Any

from rtlens.ingest.state import SessionState
from rtlens.logfile.reader import MAX_ABS_INT


def get_str(st: SessionState, obj: Any, key: str, where: str) -> str | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    st.field_error(where, key, "a string", value)
    return None


def get_int(st: SessionState, obj: Any, key: str, where: str) -> int | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if -MAX_ABS_INT < value < MAX_ABS_INT:
            return value
    elif isinstance(value, float) and value.is_integer() and -MAX_ABS_INT < value < MAX_ABS_INT:
        return int(value)
    st.field_error(where, key, "an integer (less than 2**53 in size)", value)
    return None


def get_num(st: SessionState, obj: Any, key: str, where: str) -> float | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    st.field_error(where, key, "a number", value)
    return None


def get_dict(st: SessionState, obj: Any, key: str, where: str) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    st.field_error(where, key, "an object", value)
    return None


def get_list(st: SessionState, obj: Any, key: str, where: str) -> list[Any] | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    if value is None or isinstance(value, list):
        return value
    st.field_error(where, key, "a list", value)
    return None
