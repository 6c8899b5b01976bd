"""Client payloads in each dialect's shape: what a real beta or GA app sends.

Beta apps put settings at the top of `session` (`input_audio_format`, `turn_detection`,
`modalities`); GA apps send `session.type: "realtime"` and nest audio settings under
`audio.input` / `audio.output`.
"""

from __future__ import annotations

from typing import Any

GA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
SERVER_VAD: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
DEFAULT_MODEL = {"ga": "gpt-realtime", "beta": "gpt-4o-realtime-preview-2024-12-17"}
TRANSCRIBE_MODEL = {"ga": "gpt-4o-transcribe", "beta": "whisper-1"}

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City and country"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "unit"],
        },
    },
    {
        "type": "function",
        "name": "book_table",
        "description": "Book a restaurant table.",
        "parameters": {
            "type": "object",
            "properties": {
                "party_size": {"type": "integer", "minimum": 1, "maximum": 12},
                "date": {"type": "string"},
                "time": {"type": "string"},
            },
            "required": ["party_size", "date", "time"],
        },
    },
]


def session_update(
    dialect: str,
    *,
    instructions: str,
    audio_format: str = "pcm16",
    turn_detection: dict[str, Any] | None = SERVER_VAD,
    transcribe: bool = True,
    tools: list[dict[str, Any]] | None = None,
    text_only: bool = False,
    voice: str = "alloy",
) -> dict[str, Any]:
    """The `session` object of a `session.update` for `dialect`."""
    transcription = {"model": TRANSCRIBE_MODEL[dialect]} if transcribe else None
    td = dict(turn_detection) if turn_detection is not None else None
    if dialect == "beta":
        session: dict[str, Any] = {
            "modalities": ["text"] if text_only else ["audio", "text"],
            "instructions": instructions,
            "voice": voice,
            "input_audio_format": audio_format,
            "output_audio_format": audio_format,
            "input_audio_transcription": transcription,
            "turn_detection": td,
        }
    else:
        session = {
            "type": "realtime",
            "output_modalities": ["text"] if text_only else ["audio"],
            "instructions": instructions,
            "audio": {
                "input": {
                    "format": dict(GA_FORMATS[audio_format]),
                    "transcription": transcription,
                    "turn_detection": td,
                },
                "output": {"format": dict(GA_FORMATS[audio_format]), "voice": voice},
            },
        }
    if tools:
        session["tools"] = tools
        session["tool_choice"] = "auto"
    return session


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def tool_output(call_id: str, output: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def text_response(dialect: str, **extra: Any) -> dict[str, Any]:
    """`response` of a text-only `response.create` (out-of-band with `conversation="none"`)."""
    key = "modalities" if dialect == "beta" else "output_modalities"
    return {key: ["text"], **extra}
