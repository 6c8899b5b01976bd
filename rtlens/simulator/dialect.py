"""Session configuration: one neutral form, and its beta and GA wire shapes.

`SessionConfig` is dialect-free. `session_object()` renders it as the `session` of
`session.created`/`session.updated` in the dialect's exact shape and key order (beta: real
capture C1, May 2025; GA: real capture C5, Dec 2025), and `apply_update()` validates a
`session.update` payload of the dialect and returns the new configuration. A bad update is
rejected whole (nothing is applied), as on the real service.

Decisions where the references are unclear:
- the default `silence_duration_ms` is 200, as every real `session.created` shows (the docs
  say 500);
- the simulator's default instructions are its own short text, not OpenAI's default prompt;
- GA `session.type: "transcription"` on a realtime connection is refused (unconfirmed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from rtlens.simulator import checks, errors
from rtlens.simulator.updates import apply_beta, apply_ga, default_turn_detection

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant for a small online store. Keep answers short "
    "and natural, and ask a follow-up question when something is unclear."
)

GA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}


@dataclass
class SessionConfig:
    """The effective session configuration, whatever the dialect."""

    id: str
    model: str
    expires_at: int
    instructions: str = DEFAULT_INSTRUCTIONS
    voice: str = "alloy"
    audio_out: bool = True
    input_format: str = "pcm16"
    output_format: str = "pcm16"
    turn_detection: dict[str, Any] | None = field(default_factory=default_turn_detection)
    transcription: dict[str, Any] | None = None
    noise_reduction: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    temperature: float = 0.8
    max_output_tokens: int | str = "inf"
    speed: float = 1.0
    tracing: Any = None
    truncation: Any = "auto"
    prompt: Any = None
    include: Any = None


def _beta_turn_detection(td: dict[str, Any] | None) -> dict[str, Any] | None:
    if td is None:
        return None
    keys = (
        ["type", "eagerness"]
        if td["type"] == "semantic_vad"
        else ["type", "threshold", "prefix_padding_ms", "silence_duration_ms"]
    )
    out = {k: td.get(k) for k in keys}
    out.update(create_response=td["create_response"], interrupt_response=td["interrupt_response"])
    return out


def _ga_turn_detection(td: dict[str, Any] | None) -> dict[str, Any] | None:
    if td is None:
        return None
    if td["type"] == "semantic_vad":
        keys = ["type", "eagerness", "create_response", "interrupt_response"]
    else:
        keys = [
            "type",
            "threshold",
            "prefix_padding_ms",
            "silence_duration_ms",
            "idle_timeout_ms",
            "create_response",
            "interrupt_response",
        ]
    return {k: td.get(k) for k in keys}


def session_object(cfg: SessionConfig, dialect: str) -> dict[str, Any]:
    """The `session` payload of `session.created`/`session.updated`."""
    if dialect == "beta":
        return {
            "id": cfg.id,
            "object": "realtime.session",
            "expires_at": cfg.expires_at,
            "input_audio_noise_reduction": copy.deepcopy(cfg.noise_reduction),
            "turn_detection": _beta_turn_detection(cfg.turn_detection),
            "input_audio_format": cfg.input_format,
            "input_audio_transcription": copy.deepcopy(cfg.transcription),
            "client_secret": None,
            "include": cfg.include,
            "model": cfg.model,
            "modalities": ["text", "audio"] if cfg.audio_out else ["text"],
            "instructions": cfg.instructions,
            "voice": cfg.voice,
            "output_audio_format": cfg.output_format,
            "tool_choice": copy.deepcopy(cfg.tool_choice),
            "temperature": cfg.temperature,
            "max_response_output_tokens": cfg.max_output_tokens,
            "speed": int(cfg.speed) if float(cfg.speed).is_integer() else cfg.speed,
            "tools": copy.deepcopy(cfg.tools),
        }
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": cfg.id,
        "model": cfg.model,
        "output_modalities": ["audio"] if cfg.audio_out else ["text"],
        "instructions": cfg.instructions,
        "tools": copy.deepcopy(cfg.tools),
        "tool_choice": copy.deepcopy(cfg.tool_choice),
        "max_output_tokens": cfg.max_output_tokens,
        "tracing": cfg.tracing,
        "truncation": cfg.truncation,
        "prompt": cfg.prompt,
        "expires_at": cfg.expires_at,
        "audio": {
            "input": {
                "format": dict(GA_FORMATS[cfg.input_format]),
                "transcription": copy.deepcopy(cfg.transcription),
                "noise_reduction": copy.deepcopy(cfg.noise_reduction),
                "turn_detection": _ga_turn_detection(cfg.turn_detection),
            },
            "output": {
                "format": dict(GA_FORMATS[cfg.output_format]),
                "voice": cfg.voice,
                "speed": cfg.speed,
            },
        },
        "include": cfg.include,
    }


def apply_update(
    cfg: SessionConfig, session: Any, dialect: str, *, has_assistant_audio: bool
) -> SessionConfig:
    """The configuration after `session.update{session}`; ClientError rejects it whole."""
    payload = checks.need_object(session, "session")
    new = replace(cfg, turn_detection=copy.deepcopy(cfg.turn_detection))
    if dialect == "beta":
        apply_beta(new, payload)
    else:
        apply_ga(new, payload)
    if new.voice != cfg.voice and has_assistant_audio:
        raise errors.cannot_update_voice()
    return new
