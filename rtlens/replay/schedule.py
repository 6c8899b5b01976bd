"""Which recorded server frames are released after which client event (pure logic, no I/O).

A server frame recorded after the k-th client frame waits until the k-th client event has
arrived, then for its time on the recorded clock (÷ speed). Frames before any client frame
(e.g. session.created) have k = 0 and run on the recorded clock from the connection.

Lines are rtlens frame lines or bare events (one event with a `type` a line, as ingest
reads them: the direction follows from the type, and with no `ts` every gap is 0). Audio
that `--redact-audio` replaced by `""` and a byte count is sent as that many bytes of
silence in the session's output format, so an app still hears (and times) every reply.
"""

from __future__ import annotations

import base64
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from rtlens.catalogue import BY_WIRE

# The byte that is silence in each output format (G.711 codes zero as 0xFF / 0xD5).
_SILENCE = {"pcm16": 0x00, "g711_ulaw": 0xFF, "g711_alaw": 0xD5}
_GA_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}


# What a client frame that is not a JSON event with a string type is compared as.
TEXT_FRAME = "(non-JSON text frame)"
BINARY_FRAME = "(binary frame)"
UNTYPED = "(event without a string type)"


class ReplayError(Exception):
    """The recording cannot be replayed (one line, names file and line)."""


@dataclass(frozen=True, slots=True)
class AudioFill:
    """Redacted audio to put back, as silence, when the frame is sent."""

    field: str  # the event's top-level audio field (`delta`)
    n_bytes: int
    silence: int  # the byte value that is silence in the output format


@dataclass(frozen=True, slots=True)
class ServerStep:
    """One server frame to send: where its line is, not its text (read again when sent, so
    a replay's memory does not grow with the call)."""

    after_clients: int  # released once this many client events have arrived
    offset: int  # the line's byte offset in the recording
    length: int
    line_no: int
    fill: AudioFill | None = None
    ts: float | None = None  # the recorded time (None in a file without timestamps)


@dataclass(frozen=True, slots=True)
class ClientExpect:
    type: str  # the event's type; for other frames TEXT_FRAME, BINARY_FRAME or UNTYPED
    line_no: int
    ts: float | None = None


@dataclass(frozen=True)
class Schedule:
    steps: list[ServerStep]
    clients: list[ClientExpect]
    path: str = ""

    def frames(self) -> FrameReader:
        """Open the recording to read steps' frames from (use as a context manager)."""
        return FrameReader(Path(self.path))


class FrameReader:
    """Reads a step's line again and makes the frame to send from it."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("rb")

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *_: object) -> None:
        self._fh.close()

    def frame(self, step: ServerStep) -> str | bytes:
        self._fh.seek(step.offset)
        obj = orjson.loads(self._fh.read(step.length))
        if "dir" not in obj:  # a bare event
            return orjson.dumps(_with_audio(obj, step.fill)).decode()
        if "event" in obj:
            return orjson.dumps(_with_audio(obj["event"], step.fill)).decode()
        if "text" in obj:
            return str(obj["text"])
        return base64.b64decode(obj["binary"])


def _with_audio(event: Any, fill: AudioFill | None) -> Any:
    """The event with its redacted audio put back as silence (made here, when it is sent)."""
    if fill is not None and isinstance(event, dict):
        event[fill.field] = _silence_b64(fill.n_bytes, fill.silence)
    return event


@functools.lru_cache(maxsize=64)
def _silence_b64(n_bytes: int, byte: int) -> str:
    return base64.b64encode(bytes([byte]) * n_bytes).decode()


def _output_format(session: Any, current: str) -> str:
    """The output audio format a session.created/updated sets (beta or GA shape)."""
    if not isinstance(session, dict):
        return current
    beta = session.get("output_audio_format")
    if isinstance(beta, str) and beta in _SILENCE:
        return beta
    audio = session.get("audio")
    output = audio.get("output") if isinstance(audio, dict) else None
    fmt = output.get("format") if isinstance(output, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") in _GA_FORMATS:
        return _GA_FORMATS[fmt["type"]]
    return current


def _direction(obj: dict[str, Any]) -> Any:
    if "dir" in obj:
        return obj["dir"]
    wire_type = obj.get("type")  # a bare event: its type names its direction
    if not isinstance(wire_type, str):
        return None
    spec = BY_WIRE.get(("server", wire_type)) or BY_WIRE.get(("client", wire_type))
    return spec.direction if spec else None


def load_schedule(path: str | Path) -> Schedule:
    """Read a recording line by line into its release schedule."""
    steps: list[ServerStep] = []
    clients: list[ClientExpect] = []
    out_format = "pcm16"
    try:
        fh = Path(path).open("rb")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise ReplayError(f"{path}: cannot open: {exc.strerror}") from None
    offset = 0
    with fh:
        for line_no, line in enumerate(fh, 1):
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ReplayError(f"{path}:{line_no}: not JSON") from None
            if not isinstance(obj, dict) or "rtlens" in obj or "close" in obj:
                continue
            direction = _direction(obj)
            ts = obj.get("ts")
            if not isinstance(ts, (int, float)) or isinstance(ts, bool):
                ts = None
            event = obj.get("event", obj if "dir" not in obj else None)
            if direction == "client":
                # interned: an hour's 40,000 appends share one type string
                clients.append(ClientExpect(sys.intern(_client_label(obj, event)), line_no, ts))
            elif direction == "server":
                fill = None
                if isinstance(event, dict):
                    if event.get("type") in ("session.created", "session.updated"):
                        out_format = _output_format(event.get("session"), out_format)
                    fill = _fill(event, obj.get("audio_bytes"), out_format)
                elif "event" not in obj and "text" not in obj:
                    if not isinstance(obj.get("binary"), str):
                        continue
                    try:
                        base64.b64decode(obj["binary"], validate=True)
                    except ValueError:
                        raise ReplayError(f"{path}:{line_no}: 'binary' is not base64") from None
                steps.append(ServerStep(len(clients), start, len(line), line_no, fill, ts))
    if not steps:
        raise ReplayError(f"{path}: too short to replay: no server frames")
    return Schedule(steps, clients, str(path))


def _client_label(obj: dict[str, Any], event: Any) -> str:
    if event is None:
        return BINARY_FRAME if "binary" in obj else TEXT_FRAME
    etype = event.get("type") if isinstance(event, dict) else None
    return etype if isinstance(etype, str) else UNTYPED


def client_label(message: str | bytes) -> str:
    """What a frame the client sent is compared as (the same labels as the recording's)."""
    if isinstance(message, bytes):
        return BINARY_FRAME
    try:
        event = orjson.loads(message)
    except orjson.JSONDecodeError:
        return TEXT_FRAME
    etype = event.get("type") if isinstance(event, dict) else None
    return etype if isinstance(etype, str) else UNTYPED


def _fill(event: dict[str, Any], audio_bytes: Any, out_format: str) -> AudioFill | None:
    """What redacted audio the event needs back: its top-level field emptied, bytes counted."""
    if not isinstance(audio_bytes, int) or isinstance(audio_bytes, bool) or audio_bytes <= 0:
        return None
    spec = BY_WIRE.get(("server", str(event.get("type"))))
    field = spec.audio_field if spec else None
    if field is None or event.get(field) != "":
        return None  # audio nested in items or parts stays empty (see docs/replay.md)
    return AudioFill(field, audio_bytes, _SILENCE[out_format])
