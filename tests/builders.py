"""Hand-built recordings for tests: each line written explicitly, times in ms from start.

Hand-checked tests build the smallest session that shows a behaviour, so the expected
numbers can be worked out by hand from the lines themselves.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"

START = 1_764_067_052.0  # 2025-11-25T10:37:32Z, as in SPEC §1


def b64(n_bytes: int) -> str:
    """Base64 of n zero bytes (what matters to rtlens is the decoded length)."""
    return base64.b64encode(b"\0" * n_bytes).decode()


class Session:
    """Builds an rtlens JSONL recording line by line."""

    def __init__(self, session_id: str = "test-session", *, header: bool = True) -> None:
        self.lines: list[bytes] = []
        if header:
            self.lines.append(
                orjson.dumps(
                    {
                        "rtlens": 1,
                        "session_id": session_id,
                        "started_at": "2025-11-25T10:37:32.000000Z",
                        "source": "relay",
                        "upstream": "wss://api.openai.com/v1/realtime?model=gpt-realtime",
                        "rtlens_version": "0.1.0",
                    }
                )
            )

    def _line(self, t_ms: float | None, direction: str, event: dict[str, Any]) -> Session:
        record: dict[str, Any] = {"dir": direction, "event": event}
        if t_ms is not None:
            record = {"ts": round(START + t_ms / 1000, 6), **record}
        self.lines.append(orjson.dumps(record))
        return self

    def server(self, t_ms: float | None, type_: str, **fields: Any) -> Session:
        return self._line(t_ms, "server", {"type": type_, **fields})

    def client(self, t_ms: float | None, type_: str, **fields: Any) -> Session:
        return self._line(t_ms, "client", {"type": type_, **fields})

    def raw(self, line: bytes | str) -> Session:
        self.lines.append(line.encode() if isinstance(line, str) else line)
        return self

    def close(self, t_ms: float, by: str = "client", code: int = 1000) -> Session:
        close = {"by": by, "code": code, "reason": ""}
        self.lines.append(orjson.dumps({"ts": round(START + t_ms / 1000, 6), "close": close}))
        return self

    def text(self) -> bytes:
        return b"\n".join(self.lines) + b"\n"

    def write(self, path: Path) -> Path:
        path.write_bytes(self.text())
        return path


def ga_session(model: str = "gpt-realtime", silence_ms: int = 500, transcription: bool = False):
    """A GA session.created payload with server VAD."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_test",
        "model": model,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe"} if transcription else None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": silence_ms,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
        },
    }


def beta_session(model: str = "gpt-4o-realtime-preview-2024-12-17", fmt: str = "pcm16"):
    return {
        "id": "sess_beta",
        "object": "realtime.session",
        "model": model,
        "modalities": ["audio", "text"],
        "voice": "alloy",
        "input_audio_format": fmt,
        "output_audio_format": fmt,
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
        },
    }


def usage(
    inp_text: int,
    inp_audio: int,
    out_text: int,
    out_audio: int,
    cached_text: int = 0,
    cached_audio: int = 0,
) -> dict[str, Any]:
    inp = inp_text + inp_audio
    out = out_text + out_audio
    return {
        "total_tokens": inp + out,
        "input_tokens": inp,
        "output_tokens": out,
        "input_token_details": {
            "text_tokens": inp_text,
            "audio_tokens": inp_audio,
            "image_tokens": 0,
            "cached_tokens": cached_text + cached_audio,
            "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }
