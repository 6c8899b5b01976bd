"""What a render returns: where each reply, user turn and cut lies on the WAV's timeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Mode = Literal["heard", "generated"]
CutSource = Literal["truncate", "output_audio_buffer.cleared"]


class NoAudioError(Exception):
    """The recording holds no audio to write (recorded with `--redact-audio`, or none sent)."""


@dataclass(frozen=True)
class Cut:
    """One reply whose playback the wire says stopped early.

    `start_s` and `cut_at_s` are session seconds (see `AudioRender`); `generated_s` is the
    audio the server sent for the item, `heard_s` what played (`cut_at_s - start_s`).
    """

    response_id: str | None
    item_id: str | None
    turn: int | None
    start_s: float
    generated_s: float
    heard_s: float
    cut_at_s: float
    source: CutSource


@dataclass(frozen=True)
class ReplySpan:
    """One assistant audio item, as placed on the agent (right) channel.

    `heard_end_s` is where playback stopped (the cut, or the end of the audio if it played
    out); `generated_end_s` where the generated audio would end. `end_s` is the end in this
    file: `heard_end_s` in heard mode, `generated_end_s` in generated mode.
    """

    response_id: str | None
    item_id: str | None
    turn: int | None
    start_s: float
    heard_end_s: float
    generated_end_s: float
    end_s: float
    cut: bool


@dataclass(frozen=True)
class UserSpan:
    """Where the user's audio for one turn lies on the user (left) channel.

    From the VAD's `audio_start_ms`/`audio_end_ms` (prefix padding and silence window
    included) mapped from the input-audio timeline to the WAV; for manual turns, the audio
    appended between the previous commit and this turn's commit.
    """

    turn: int
    item_id: str | None
    start_s: float
    end_s: float


@dataclass
class AudioRender:
    """What `render_wav` wrote.

    Times ending in `_s` are **session seconds**: seconds since `origin_ts`, the `ts` of the
    recording's first timestamped line (the zero of every `*_ms` column in the tables, so
    `t_ms / 1000` is directly comparable). WAV time = session seconds - `offset_s`;
    `offset_s` is 0 for a whole-session render and the window's start with `--turn`.
    """

    path: Path
    origin_ts: float
    offset_s: float
    duration_s: float
    rate: int
    mode: Mode
    turn: int | None
    input_format: str | None
    output_format: str | None
    cuts: list[Cut] = field(default_factory=list)
    replies: list[ReplySpan] = field(default_factory=list)
    user_spans: list[UserSpan] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The side JSON `rtlens audio` writes next to the WAV (`OUT.json`)."""
        out = asdict(self)
        out["path"] = str(self.path)
        out["channels"] = {"left": "user", "right": "agent"}
        out["time_base"] = "session seconds since origin_ts; WAV time = value - offset_s"
        return out
