"""Validate and apply one `session.update` payload, beta or GA, to a `SessionConfig`.

The two dialects name the same settings differently (beta `input_audio_format: "pcm16"` vs GA
`audio.input.format: {type: "audio/pcm", rate: 24000}`); both land in the same neutral fields.
Anything the dialect does not know is an `unknown_parameter` with its full path, so a beta
payload sent to a GA session (or the reverse) is rejected the way the real service rejects it.
Objects such as `turn_detection` and `transcription` are replaced whole, with the service's
defaults filled in; GA's nested `audio.input`/`audio.output` are merged key by key.
"""

from __future__ import annotations

from typing import Any

from rtlens.simulator import checks, errors
from rtlens.simulator.checks import given, need_number, need_object, only_keys

VOICES = ["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
BETA_FORMATS = ["pcm16", "g711_ulaw", "g711_alaw"]
GA_FORMAT_TYPES = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
SEMANTIC_SILENCE_MS = {"low": 1500, "medium": 800, "auto": 800, "high": 500}
# Settings where null is a value (off, none), not "not given": kept when a payload's nulls
# are dropped (`checks.given`).
NULL_MEANS_OFF = frozenset(
    {
        "turn_detection",
        "transcription",
        "noise_reduction",
        "input_audio_transcription",
        "input_audio_noise_reduction",
        "tracing",
        "prompt",
        "idle_timeout_ms",
    }
)


def default_turn_detection() -> dict[str, Any]:
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


def turn_detection(value: Any, path: str, *, ga: bool) -> dict[str, Any] | None:
    if value is None:
        return None
    obj = given(need_object(value, path), NULL_MEANS_OFF)
    kind = checks.need_choice(
        obj.get("type", "server_vad"), ["server_vad", "semantic_vad"], f"{path}.type"
    )
    td = default_turn_detection()
    td["type"] = kind
    if kind == "semantic_vad":
        only_keys(obj, ["type", "eagerness", "create_response", "interrupt_response"], path)
        td["eagerness"] = checks.need_choice(
            obj.get("eagerness", "auto"), list(SEMANTIC_SILENCE_MS), f"{path}.eagerness"
        )
        td["silence_duration_ms"] = SEMANTIC_SILENCE_MS[td["eagerness"]]
    else:
        keys = ["type", "threshold", "prefix_padding_ms", "silence_duration_ms"]
        keys += ["create_response", "interrupt_response"] + (["idle_timeout_ms"] if ga else [])
        only_keys(obj, keys, path)
        if "threshold" in obj:
            td["threshold"] = need_number(obj["threshold"], f"{path}.threshold", 0, 1)
        for key in ("prefix_padding_ms", "silence_duration_ms"):
            if key in obj:
                td[key] = int(need_number(obj[key], f"{path}.{key}", 0, 10000, integer=True))
        if obj.get("idle_timeout_ms") is not None:
            td["idle_timeout_ms"] = int(
                need_number(
                    obj["idle_timeout_ms"], f"{path}.idle_timeout_ms", 5000, 30000, integer=True
                )
            )
    for key in ("create_response", "interrupt_response"):
        if key in obj:
            td[key] = checks.need_bool(obj[key], f"{path}.{key}")
    return td


def transcription(value: Any, path: str, default_model: str) -> dict[str, Any] | None:
    if value is None:
        return None
    obj = given(need_object(value, path), ("language", "prompt"))
    only_keys(obj, ["model", "language", "prompt"], path)
    return {
        "model": checks.need_str(obj.get("model", default_model), f"{path}.model"),
        "language": obj.get("language"),
        "prompt": obj.get("prompt"),
    }


def noise_reduction(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    obj = need_object(value, path)
    only_keys(obj, ["type"], path)
    return {
        "type": checks.need_choice(obj.get("type"), ["near_field", "far_field"], f"{path}.type")
    }


def _common(cfg: Any, s: dict[str, Any], key: str, path: str) -> bool:
    """Settings both dialects spell the same way; True if `key` was one of them."""
    value = s[key]
    if key == "instructions":
        cfg.instructions = checks.need_str(value, path)
    elif key == "model":
        cfg.model = checks.need_str(value, path)
    elif key == "tools":
        cfg.tools = checks.need_tools(value, path)
    elif key == "tool_choice":
        cfg.tool_choice = checks.need_tool_choice(value, path)
    elif key in ("tracing", "include", "truncation", "prompt"):
        setattr(cfg, key, value)
    else:
        return False
    return True


def apply_beta(cfg: Any, s: dict[str, Any]) -> None:
    s = given(s, NULL_MEANS_OFF)
    for key in s:
        path = f"session.{key}"
        value = s[key]
        if key in ("instructions", "model", "tools", "tool_choice", "tracing", "include"):
            _common(cfg, s, key, path)
        elif key == "modalities":
            if not isinstance(value, list) or sorted(value) not in (["text"], ["audio", "text"]):
                raise errors.ClientError(
                    f"Invalid modalities: {value!r}. Supported combinations are: ['text'] and "
                    "['audio', 'text'].",
                    "invalid_value",
                    path,
                )
            cfg.audio_out = "audio" in value
        elif key == "voice":
            cfg.voice = checks.need_choice(value, VOICES, path)
        elif key in ("input_audio_format", "output_audio_format"):
            fmt = checks.need_choice(value, BETA_FORMATS, path)
            setattr(cfg, "input_format" if key.startswith("input") else "output_format", fmt)
        elif key == "input_audio_transcription":
            cfg.transcription = transcription(value, path, "whisper-1")
        elif key == "input_audio_noise_reduction":
            cfg.noise_reduction = noise_reduction(value, path)
        elif key == "turn_detection":
            cfg.turn_detection = turn_detection(value, path, ga=False)
        elif key == "temperature":
            cfg.temperature = need_number(value, path, 0.6, 1.2)
        elif key == "max_response_output_tokens":
            cfg.max_output_tokens = checks.need_max_tokens(value, path)
        elif key == "speed":
            cfg.speed = need_number(value, path, 0.25, 1.5)
        else:
            raise errors.unknown_parameter(path)


def _ga_format(value: Any, path: str) -> str:
    obj = given(need_object(value, path))
    only_keys(obj, ["type", "rate"], path)
    kind = checks.need_choice(obj.get("type"), list(GA_FORMAT_TYPES), f"{path}.type")
    if kind == "audio/pcm" and "rate" in obj:
        need_number(obj["rate"], f"{path}.rate", 24000, 24000, integer=True)
    return GA_FORMAT_TYPES[kind]


def _apply_ga_audio(cfg: Any, audio: Any) -> None:
    audio = given(need_object(audio, "session.audio"))
    only_keys(audio, ["input", "output"], "session.audio")
    if "input" in audio:
        path = "session.audio.input"
        inp = given(need_object(audio["input"], path), NULL_MEANS_OFF)
        only_keys(inp, ["format", "transcription", "noise_reduction", "turn_detection"], path)
        if "format" in inp:
            cfg.input_format = _ga_format(inp["format"], f"{path}.format")
        if "transcription" in inp:
            cfg.transcription = transcription(
                inp["transcription"], f"{path}.transcription", "whisper-1"
            )
        if "noise_reduction" in inp:
            cfg.noise_reduction = noise_reduction(inp["noise_reduction"], f"{path}.noise_reduction")
        if "turn_detection" in inp:
            cfg.turn_detection = turn_detection(
                inp["turn_detection"], f"{path}.turn_detection", ga=True
            )
    if "output" in audio:
        path = "session.audio.output"
        out = given(need_object(audio["output"], path))
        only_keys(out, ["format", "voice", "speed"], path)
        if "format" in out:
            cfg.output_format = _ga_format(out["format"], f"{path}.format")
        if "voice" in out:
            cfg.voice = checks.need_choice(out["voice"], VOICES, f"{path}.voice")
        if "speed" in out:
            cfg.speed = need_number(out["speed"], f"{path}.speed", 0.25, 1.5)


def apply_ga(cfg: Any, s: dict[str, Any]) -> None:
    s = given(s, NULL_MEANS_OFF)
    if "type" not in s:
        raise errors.missing_parameter("session.type")
    kind = checks.need_choice(s["type"], ["realtime", "transcription"], "session.type")
    if kind != "realtime":
        raise errors.ClientError(
            "Cannot change the type of a realtime session to 'transcription'.",
            "invalid_value",
            "session.type",
        )
    for key in s:
        path = f"session.{key}"
        if key == "type" or _common(cfg, s, key, path):
            continue
        if key == "output_modalities":
            value = s[key]
            if value not in (["audio"], ["text"]):
                raise errors.invalid_value(value, ["audio", "text"], path)
            cfg.audio_out = value == ["audio"]
        elif key == "max_output_tokens":
            cfg.max_output_tokens = checks.need_max_tokens(s[key], path)
        elif key == "audio":
            _apply_ga_audio(cfg, s[key])
        else:
            raise errors.unknown_parameter(path)
