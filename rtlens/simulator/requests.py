"""Parse what a client asks for: items to add (`conversation.item.create`) and responses
(`response.create`), per dialect, into the simulator's neutral objects.

Content types are dialect-specific for assistant text (beta `text`, GA `output_text`), so a
payload of the wrong dialect gets `invalid_value`, like other shape mistakes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from rtlens.simulator import audio, checks, errors
from rtlens.simulator.checks import given, need_object, only_keys
from rtlens.simulator.conversation import Conversation, Item, Part
from rtlens.simulator.dialect import SessionConfig
from rtlens.simulator.ids import Stream
from rtlens.simulator.shapes import ResponseParams
from rtlens.simulator.updates import BETA_FORMATS, VOICES, _ga_format

_ROLE_PARTS = {
    ("beta", "user"): ["input_text", "input_audio"],
    ("beta", "system"): ["input_text"],
    ("beta", "assistant"): ["text", "audio"],
    ("ga", "user"): ["input_text", "input_audio", "input_image"],
    ("ga", "system"): ["input_text"],
    ("ga", "assistant"): ["output_text", "output_audio"],
}
_NEUTRAL_KIND = {"text": "output_text", "audio": "output_audio"}


def _part(raw: Any, path: str, dialect: str, role: str, input_format: str) -> Part:
    obj = need_object(raw, path)
    kind = checks.need_choice(obj.get("type"), _ROLE_PARTS[(dialect, role)], f"{path}.type")
    kind = _NEUTRAL_KIND.get(kind, kind)
    if kind.endswith("audio"):
        only_keys(obj, ["type", "audio", "transcript"], path)
        try:
            data = base64.b64decode(obj.get("audio") or "", validate=True)
        except (binascii.Error, ValueError):
            raise errors.ClientError(
                "Invalid 'audio': expected base64-encoded audio.", "invalid_value", f"{path}.audio"
            ) from None
        return Part(
            kind,
            obj.get("transcript"),
            bytearray(data),
            audio.duration_ms(input_format, len(data)),
            input_format,
        )
    if kind == "input_image":
        return Part(kind, "")
    only_keys(obj, ["type", "text"], path)
    return Part(kind, checks.need_str(obj.get("text", ""), f"{path}.text"))


def parse_item(raw: Any, path: str, dialect: str, ids: Stream, input_format: str) -> Item:
    """A client-supplied item (`conversation.item.create.item` or `response.input[n]`)."""
    obj = need_object(raw, path)
    kind = checks.need_choice(
        obj.get("type", "message"),
        ["message", "function_call", "function_call_output"],
        f"{path}.type",
    )
    item_id = obj.get("id") or ids.item_id()
    common = ["id", "type", "object", "status"]
    if kind == "function_call_output":
        only_keys(obj, [*common, "call_id", "output"], path)
        if not obj.get("call_id"):
            raise errors.missing_parameter(f"{path}.call_id")
        return Item(item_id, kind, call_id=obj["call_id"], output=str(obj.get("output", "")))
    if kind == "function_call":
        only_keys(obj, [*common, "call_id", "name", "arguments"], path)
        return Item(
            item_id,
            kind,
            name=obj.get("name"),
            call_id=obj.get("call_id"),
            arguments=str(obj.get("arguments", "")),
        )
    only_keys(obj, [*common, "role", "content"], path)
    role = checks.need_choice(obj.get("role"), ["user", "assistant", "system"], f"{path}.role")
    content = obj.get("content") or []
    if not isinstance(content, list):
        raise errors.invalid_type(f"{path}.content", "an array", content)
    parts = [
        _part(p, f"{path}.content[{i}]", dialect, role, input_format) for i, p in enumerate(content)
    ]
    return Item(item_id, kind, role=role, parts=parts)


_BETA_RESPONSE_KEYS = [
    "modalities",
    "instructions",
    "voice",
    "output_audio_format",
    "tools",
    "tool_choice",
    "temperature",
    "max_response_output_tokens",
    "conversation",
    "metadata",
    "input",
]
_GA_RESPONSE_KEYS = [
    "output_modalities",
    "instructions",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "conversation",
    "metadata",
    "prompt",
    "input",
    "parallel_tool_calls",
    "reasoning",
]


def _input_items(raw: Any, dialect: str, conv: Conversation, ids: Stream, fmt: str) -> list[Item]:
    if not isinstance(raw, list):
        raise errors.invalid_type("response.input", "an array", raw)
    items = []
    for i, entry in enumerate(raw):
        path = f"response.input[{i}]"
        if isinstance(entry, dict) and entry.get("type") == "item_reference":
            found = conv.get(entry.get("id"))
            if found is None:
                raise errors.ClientError(
                    f"Item with id '{entry.get('id')}' not found.", "invalid_value", f"{path}.id"
                )
            items.append(found)
        else:
            items.append(parse_item(entry, path, dialect, ids, fmt))
    return items


def parse_response(
    raw: Any, cfg: SessionConfig, dialect: str, conv: Conversation, ids: Stream
) -> ResponseParams:
    """`response.create.response` (optional) with the session's settings as defaults."""
    params = ResponseParams(
        audio_out=cfg.audio_out,
        voice=cfg.voice,
        output_format=cfg.output_format,
        instructions=cfg.instructions,
        tools=cfg.tools,
        tool_choice=cfg.tool_choice,
        temperature=cfg.temperature,
        max_output_tokens=cfg.max_output_tokens,
    )
    if raw is None:
        return params
    obj = given(need_object(raw, "response"))
    only_keys(obj, _BETA_RESPONSE_KEYS if dialect == "beta" else _GA_RESPONSE_KEYS, "response")
    if "modalities" in obj:
        if sorted(obj["modalities"] or []) not in (["text"], ["audio", "text"]):
            raise errors.invalid_value(obj["modalities"], ["text", "audio"], "response.modalities")
        params.audio_out = "audio" in obj["modalities"]
    if "output_modalities" in obj:
        if obj["output_modalities"] not in (["audio"], ["text"]):
            raise errors.invalid_value(
                obj["output_modalities"], ["audio", "text"], "response.output_modalities"
            )
        params.audio_out = obj["output_modalities"] == ["audio"]
    if "voice" in obj:
        params.voice = checks.need_choice(obj["voice"], VOICES, "response.voice")
    if "output_audio_format" in obj:
        params.output_format = checks.need_choice(
            obj["output_audio_format"], BETA_FORMATS, "response.output_audio_format"
        )
    if "audio" in obj:
        audio_out = given(need_object(obj["audio"], "response.audio")).get("output", {})
        out = given(need_object(audio_out, "response.audio.output"))
        only_keys(out, ["format", "voice"], "response.audio.output")
        if "format" in out:
            params.output_format = _ga_format(out["format"], "response.audio.output.format")
        if "voice" in out:
            params.voice = checks.need_choice(out["voice"], VOICES, "response.audio.output.voice")
    if "instructions" in obj:
        params.instructions = checks.need_str(obj["instructions"], "response.instructions")
    if "tools" in obj:
        params.tools = checks.need_tools(obj["tools"], "response.tools")
    if "tool_choice" in obj:
        params.tool_choice = checks.need_tool_choice(obj["tool_choice"], "response.tool_choice")
    if "temperature" in obj:
        params.temperature = checks.need_number(
            obj["temperature"], "response.temperature", 0.6, 1.2
        )
    for key in ("max_response_output_tokens", "max_output_tokens"):
        if key in obj:
            params.max_output_tokens = checks.need_max_tokens(obj[key], f"response.{key}")
    if "conversation" in obj:
        params.conversation = checks.need_choice(
            obj["conversation"], ["auto", "none"], "response.conversation"
        )
    params.metadata = obj.get("metadata")
    if obj.get("input") is not None:
        params.input_items = _input_items(obj["input"], dialect, conv, ids, cfg.input_format)
    return params
