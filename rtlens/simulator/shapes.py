"""Wire shapes of items, content parts and response objects, per dialect.

Beta items carry `"object": "realtime.item"` and call assistant content `audio`/`text`
(capture C1); GA items have no `object` and call it `output_audio`/`output_text` (C5), while
`response.content_part.*` parts stay `audio`/`text` in both dialects (C5, C6, C7). Beta
response objects list `modalities`, `voice`, `output_audio_format`, `temperature`; GA ones
`output_modalities` and `audio.output{format, voice}` (C1 vs C5).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from rtlens.simulator.conversation import Item, Part
from rtlens.simulator.dialect import GA_FORMATS

_KIND_BETA = {"output_audio": "audio", "output_text": "text"}


def content_part(part: Part, dialect: str, *, with_audio: bool = False) -> dict[str, Any]:
    kind = _KIND_BETA.get(part.kind, part.kind) if dialect == "beta" else part.kind
    out: dict[str, Any] = {"type": kind}
    if part.kind.endswith("audio"):
        if with_audio:
            out["audio"] = base64.b64encode(bytes(part.audio)).decode()
        out["transcript"] = part.text
    else:
        out["text"] = part.text or ""
    return out


def stream_part(part: Part) -> dict[str, Any]:
    """`part` of `response.content_part.*`: `audio`/`text` in both dialects."""
    if part.kind == "output_audio":
        return {"type": "audio", "transcript": part.text or ""}
    return {"type": "text", "text": part.text or ""}


def item_object(item: Item, dialect: str, *, with_audio: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id}
    if dialect == "beta":
        out["object"] = "realtime.item"
    out["type"] = item.type
    out["status"] = item.status
    if item.type == "message":
        out["role"] = item.role
        out["content"] = [content_part(p, dialect, with_audio=with_audio) for p in item.parts]
    elif item.type == "function_call":
        out.update(name=item.name, call_id=item.call_id, arguments=item.arguments)
    else:
        out.update(call_id=item.call_id, output=item.output)
    return out


@dataclass
class ResponseParams:
    """What one `response.create` asked for, with session defaults filled in."""

    audio_out: bool
    voice: str
    output_format: str
    instructions: str
    tools: list[dict[str, Any]]
    tool_choice: Any
    temperature: float
    max_output_tokens: int | str
    conversation: str = "auto"
    metadata: Any = None
    input_items: list[Item] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def response_object(
    response_id: str,
    params: ResponseParams,
    dialect: str,
    *,
    status: str,
    conversation_id: str | None,
    output: list[dict[str, Any]],
    status_details: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "object": "realtime.response",
        "id": response_id,
        "status": status,
        "status_details": status_details,
        "output": output,
        "conversation_id": conversation_id,
    }
    if dialect == "beta":
        out["modalities"] = ["text", "audio"] if params.audio_out else ["text"]
        out["voice"] = params.voice
        out["output_audio_format"] = params.output_format
        out["temperature"] = params.temperature
        out["max_output_tokens"] = params.max_output_tokens
    else:
        out["output_modalities"] = ["audio"] if params.audio_out else ["text"]
        out["max_output_tokens"] = params.max_output_tokens
        out["audio"] = {
            "output": {"format": dict(GA_FORMATS[params.output_format]), "voice": params.voice}
        }
    out["usage"] = usage
    out["metadata"] = params.metadata
    return out
