"""Render a recording's audio as a stereo WAV on the session's timeline (docs/audio.md).

One pass over the recording places every chunk of audio on a channel as it is read:

- user (left): each `input_audio_buffer.append` (and the audio of an app's
  `conversation.item.create`) where it was sent, contiguous with the user audio before it
  unless it was sent more than `USER_GAP_S` after that audio ended (then it starts where it
  was sent: the microphone had stopped). Small delays of a sender are so absorbed, never
  accumulated; audio sent faster than real time plays back to back.
- agent (right): an assistant audio item starts at its first delta's arrival, or where the
  reply before it ends if that is later (a client's player queues replies); its deltas
  follow contiguously. In heard mode a truncate (`audio_end_ms`) or WebRTC
  `output_audio_buffer.cleared` silences the item from the cut on, and the next reply may
  start there.

Each channel goes to its own temporary file (mono int16, written at its sample offset,
so holes stay zeros and a cut overwrites what it silences); at the end both are read back
block by block and interleaved into the WAV. Memory therefore stays flat whatever the
length of the call; the temporary files take as much disk as the WAV.

Turn numbers come from the same normalizer `rtlens ingest` runs (one more pass, with no
database), so `--turn N` and every `turn` field are the tables' `turns.turn`.
"""

from __future__ import annotations

import bisect
import tempfile
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rtlens.audio.codec import DEFAULT, Resampler, WireFormat, decode, to_int16, wire_format
from rtlens.audio.model import (
    AudioRender,
    Cut,
    CutSource,
    Mode,
    NoAudioError,
    ReplySpan,
    UserSpan,
)
from rtlens.audio.wire import Frame, Header, read_frames
from rtlens.catalogue import lookup

USER_GAP_S = 0.5
"""User audio sent this much later than the end of the user audio before it starts a new
run at its send time; less, and it is played on from the previous chunk (sender jitter)."""
CONTEXT_S = 1.0
"""Seconds of context `--turn` keeps on each side of the turn."""
_BLOCK_SAMPLES = 1 << 16  # samples per channel interleaved at a time

Progress = Callable[[int], None]


# ---- channels ----------------------------------------------------------------------------------


class _File(Protocol):
    def seek(self, pos: int, /) -> int: ...
    def write(self, data: bytes, /) -> int: ...
    def read(self, n: int, /) -> bytes: ...


class _Channel:
    """One mono int16 track in a temporary file, written at sample offsets."""

    def __init__(self, file: _File) -> None:
        self.file = file
        self.end = 0  # one past the last sample written

    def write(self, pos: int, samples: np.ndarray) -> None:
        if pos < 0:
            samples, pos = samples[-pos:], 0
        if len(samples) == 0:
            return
        self.file.seek(pos * 2)
        self.file.write(to_int16(samples).tobytes())
        self.end = max(self.end, pos + len(samples))

    def zero(self, start: int, stop: int) -> None:
        stop = min(stop, self.end)
        start = max(start, 0)
        while start < stop:
            n = min(stop - start, _BLOCK_SAMPLES)
            self.file.seek(start * 2)
            self.file.write(bytes(2 * n))
            start += n

    def read(self, start: int, n: int) -> np.ndarray:
        out = np.zeros(n, dtype="<i2")
        if start < self.end and n > 0:
            self.file.seek(start * 2)
            data = self.file.read(2 * min(n, self.end - start))
            out[: len(data) // 2] = np.frombuffer(data, dtype="<i2")
        return out


# ---- what the normalizer says about turns --------------------------------------------------------


@dataclass
class _Turns:
    response_turn: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # turns rows as dicts


def _turns(recording: Path) -> _Turns:
    from rtlens.ingest.normalize import normalize_file
    from rtlens.schema import TABLES

    tables = normalize_file(recording, sink=lambda _lines, _tuples: None).rows
    out = _Turns()
    resp_cols = TABLES["responses"].column_names
    for row in tables.get("responses", []):
        r = dict(zip(resp_cols, row, strict=False))
        if r["response_id"] is not None and r["turn"] is not None:
            out.response_turn[r["response_id"]] = r["turn"]
    turn_cols = TABLES["turns"].column_names
    out.rows = [dict(zip(turn_cols, row, strict=False)) for row in tables.get("turns", [])]
    return out


# ---- the pass over the recording --------------------------------------------------------------


@dataclass
class _Reply:
    response_id: str | None
    item_id: str | None
    start: int  # sample
    fmt: WireFormat
    resampler: Resampler
    gen_end: int = 0  # one past the last generated sample
    generated_s: float = 0.0
    cut_at: int | None = None  # sample where playback stopped
    heard_s: float | None = None
    cut_source: CutSource | None = None

    def end(self, mode: Mode) -> int:
        return self.cut_at if mode == "heard" and self.cut_at is not None else self.gen_end


@dataclass
class _Run:
    """A contiguous run of user (appended) audio: input-audio ms -> samples."""

    input_ms: float
    start: int
    n: int = 0


class _Pass:
    def __init__(self, rate: int, mode: Mode, user: _Channel, agent: _Channel) -> None:
        self.rate, self.mode, self.user, self.agent = rate, mode, user, agent
        self.origin: float | None = None
        self.redacted = False
        self.saw_audio = False
        self.in_fmt: WireFormat = DEFAULT
        self.out_fmt: WireFormat = DEFAULT
        self.in_fmt_name: str | None = None
        self.out_fmt_name: str | None = None
        self.response_fmt: dict[str, WireFormat] = {}
        self.user_cursor = 0
        self.user_resampler = Resampler(DEFAULT.rate, rate)
        self.input_ms = 0.0  # the server's input-audio timeline (ms appended so far)
        self.runs: list[_Run] = []
        self.commit_from_ms = 0.0
        self.committed: dict[str, tuple[float, float]] = {}  # item -> input ms range
        self.user_items: dict[str, tuple[int, int]] = {}  # item.create audio -> samples
        self.replies: dict[str, _Reply] = {}
        self.by_response: dict[str, list[_Reply]] = {}
        self.last_reply: _Reply | None = None
        self.gap = round(USER_GAP_S * rate)

    def pos(self, ts: float | None) -> int:
        if ts is None or self.origin is None:
            return self.user_cursor
        return round((ts - self.origin) * self.rate)

    def frame(self, frame: Frame) -> None:
        if frame.ts is not None and self.origin is None:
            self.origin = frame.ts
        event = frame.event
        kind = event.get("type")
        spec = lookup(frame.direction, kind) if isinstance(kind, str) else None
        if spec is None:
            return
        name = spec.canonical
        if frame.direction == "client":
            if name == "input_audio_buffer.append":
                self.append(frame, event.get("audio"))
            elif name == "conversation.item.create":
                self.item_create(frame, event.get("item"))
            elif name == "conversation.item.truncate":
                self.truncate(event, "truncate")
            elif name == "session.update":
                self.session(event.get("session"), input_only=True)
        else:
            if name == "response.output_audio.delta":
                self.delta(frame, event)
            elif name == "conversation.item.truncated":
                self.truncate(event, "truncate")
            elif name == "output_audio_buffer.cleared":
                self.cleared(frame, event.get("response_id"))
            elif name in ("session.created", "session.updated"):
                self.session(event.get("session"), input_only=False)
            elif name == "response.created":
                self.response_created(event.get("response"))
            elif name == "input_audio_buffer.committed":
                item = event.get("item_id")
                if isinstance(item, str):
                    self.committed[item] = (self.commit_from_ms, self.input_ms)
                self.commit_from_ms = self.input_ms
            elif name == "input_audio_buffer.cleared":
                self.commit_from_ms = self.input_ms

    # -- formats

    def session(self, session: Any, *, input_only: bool) -> None:
        if not isinstance(session, dict):
            return
        inp = session.get("input_audio_format")
        out = session.get("output_audio_format")
        audio = session.get("audio")
        if isinstance(audio, dict):
            if isinstance(audio.get("input"), dict) and inp is None:
                inp = audio["input"].get("format")
            if isinstance(audio.get("output"), dict) and out is None:
                out = audio["output"].get("format")
        parsed = wire_format(inp) if inp is not None else None
        if parsed is not None:
            self.in_fmt = parsed
            self.in_fmt_name = parsed.name
        if not input_only:  # the app's request for output is what the server then reports
            parsed = wire_format(out) if out is not None else None
            if parsed is not None:
                self.out_fmt = parsed
                self.out_fmt_name = parsed.name

    def response_created(self, response: Any) -> None:
        if not isinstance(response, dict) or not isinstance(response.get("id"), str):
            return
        value = response.get("output_audio_format")
        audio = response.get("audio")
        if value is None and isinstance(audio, dict) and isinstance(audio.get("output"), dict):
            value = audio["output"].get("format")
        parsed = wire_format(value) if value is not None else None
        if parsed is not None:
            self.response_fmt[response["id"]] = parsed

    # -- user

    def _audio(self, frame: Frame, b64: Any) -> bytes | None:
        if not isinstance(b64, str) or not b64:
            if frame.redacted:
                self.redacted = True
            return None
        import base64

        try:
            data = base64.b64decode(b64)
        except ValueError:
            return None
        self.saw_audio = True
        return data

    def _place_user(self, frame: Frame, data: bytes, fmt: WireFormat) -> tuple[int, int]:
        sent = self.pos(frame.ts)
        if self.user_resampler.rate_in != fmt.rate:
            self.user_resampler = Resampler(fmt.rate, self.rate)
        if sent - self.user_cursor > self.gap:
            start = sent
            self.user_resampler.reset()
        else:
            start = self.user_cursor
        samples = self.user_resampler.push(decode(fmt, data))
        self.user.write(start, samples)
        self.user_cursor = start + len(samples)
        return start, self.user_cursor

    def append(self, frame: Frame, b64: Any) -> None:
        data = self._audio(frame, b64)
        if data is None:
            return
        start, end = self._place_user(frame, data, self.in_fmt)
        run = self.runs[-1] if self.runs else None
        if run is None or run.start + run.n != start:
            run = _Run(self.input_ms, start)
            self.runs.append(run)
        run.n += end - start
        self.input_ms += self.in_fmt.duration_s(len(data)) * 1000

    def item_create(self, frame: Frame, item: Any) -> None:
        if not isinstance(item, dict) or not isinstance(item.get("content"), list):
            return
        for part in item["content"]:
            if isinstance(part, dict) and part.get("type") == "input_audio":
                data = self._audio(frame, part.get("audio"))
                if data is not None:
                    start, end = self._place_user(frame, data, self.in_fmt)
                    if isinstance(item.get("id"), str):
                        self.user_items[item["id"]] = (start, end)

    def input_ms_to_sample(self, ms: float, *, end: bool = False) -> int | None:
        """Where a point of the input-audio timeline lies on the user channel (`end`: a
        point where two runs meet is the end of the first, not the start of the next)."""
        if not self.runs:
            return None
        starts = [r.input_ms for r in self.runs]
        found = bisect.bisect_left(starts, ms) if end else bisect.bisect_right(starts, ms)
        run = self.runs[max(0, found - 1)]
        return run.start + min(run.n, max(0, round((ms - run.input_ms) * self.rate / 1000)))

    # -- agent

    def delta(self, frame: Frame, event: dict[str, Any]) -> None:
        data = self._audio(frame, event.get("delta"))
        if data is None:
            return
        response_id = event.get("response_id")
        response_id = response_id if isinstance(response_id, str) else None
        item_id = event.get("item_id")
        item_id = item_id if isinstance(item_id, str) else None
        key = item_id or response_id or ""
        reply = self.replies.get(key)
        if reply is None:
            fmt = self.response_fmt.get(response_id or "", self.out_fmt)
            after = self.last_reply.end(self.mode) if self.last_reply is not None else 0
            start = max(self.pos(frame.ts), after)
            reply = _Reply(response_id, item_id, start, fmt, Resampler(fmt.rate, self.rate))
            reply.gen_end = start
            self.replies[key] = reply
            if response_id is not None:
                self.by_response.setdefault(response_id, []).append(reply)
            self.last_reply = reply
        reply.generated_s += reply.fmt.duration_s(len(data))
        samples = reply.resampler.push(decode(reply.fmt, data))
        if self.mode == "generated" or reply.cut_at is None:
            self.agent.write(reply.gen_end, samples)
        reply.gen_end += len(samples)

    def truncate(self, event: dict[str, Any], source: CutSource) -> None:
        item = event.get("item_id")
        ms = event.get("audio_end_ms")
        reply = self.replies.get(item) if isinstance(item, str) else None
        if reply is None or not isinstance(ms, (int, float)) or isinstance(ms, bool):
            return
        self._cut(reply, ms / 1000.0, source)

    def cleared(self, frame: Frame, response_id: Any) -> None:
        if not isinstance(response_id, str) or frame.ts is None:
            return
        for reply in self.by_response.get(response_id, []):
            self._cut(
                reply, (self.pos(frame.ts) - reply.start) / self.rate, "output_audio_buffer.cleared"
            )

    def _cut(self, reply: _Reply, heard_s: float, source: CutSource) -> None:
        heard_s = max(0.0, min(heard_s, reply.generated_s))
        at = reply.start + min(round(heard_s * self.rate), reply.gen_end - reply.start)
        if reply.cut_at is not None and reply.cut_at <= at:
            return  # an earlier cut of the same item stands
        if self.mode == "heard":
            self.agent.zero(at, reply.gen_end)
        reply.cut_at, reply.heard_s, reply.cut_source = at, heard_s, source

    # -- results

    def results(self, turns: _Turns) -> tuple[list[Cut], list[ReplySpan], list[UserSpan]]:
        rate = float(self.rate)
        cuts, spans = [], []
        for reply in self.replies.values():
            turn = turns.response_turn.get(reply.response_id or "")
            heard_end = reply.cut_at if reply.cut_at is not None else reply.gen_end
            spans.append(
                ReplySpan(
                    reply.response_id,
                    reply.item_id,
                    turn,
                    reply.start / rate,
                    heard_end / rate,
                    reply.gen_end / rate,
                    reply.end(self.mode) / rate,
                    reply.cut_at is not None,
                )
            )
            if reply.cut_at is not None and reply.cut_source is not None:
                cuts.append(
                    Cut(
                        reply.response_id,
                        reply.item_id,
                        turn,
                        reply.start / rate,
                        reply.generated_s,
                        (reply.cut_at - reply.start) / rate,
                        reply.cut_at / rate,
                        reply.cut_source,
                    )
                )
        users = []
        for row in turns.rows:
            span = self.user_span(row)
            if span is not None:
                users.append(UserSpan(row["turn"], row["item_id"], span[0] / rate, span[1] / rate))
        return cuts, spans, users

    def user_span(self, row: dict[str, Any]) -> tuple[int, int] | None:
        item = row.get("item_id")
        if isinstance(item, str) and item in self.user_items:
            return self.user_items[item]
        start_ms, end_ms = row.get("audio_start_ms"), row.get("audio_end_ms")
        if (start_ms is None or end_ms is None) and isinstance(item, str):
            start_ms, end_ms = self.committed.get(item, (None, None))
        if start_ms is None or end_ms is None or end_ms <= start_ms:
            return None  # (no user audio in this turn: a text turn, or an empty commit)
        start = self.input_ms_to_sample(start_ms)
        end = self.input_ms_to_sample(end_ms, end=True)
        if start is None or end is None:
            return None
        return start, max(start, end)


# ---- public ----------------------------------------------------------------------------------


def render_wav(
    recording: str | Path,
    out: str | Path,
    *,
    mode: Mode = "heard",
    turn: int | None = None,
    rate: int = 24000,
    on_progress: Progress | None = None,
) -> AudioRender:
    """Write `recording`'s conversation to `out` as a 16-bit stereo WAV (user left, agent
    right) at `rate`, and say where everything lies in it (see `AudioRender`).

    `mode`: "heard" cuts each reply where the wire says playback stopped, "generated" keeps
    all the audio the server sent. `turn`: only that turn (`turns.turn`, 1-based) with
    `CONTEXT_S` either side. `on_progress(n)`: after each block of `n` bytes read.
    Raises `NoAudioError` (nothing to write, or no such turn) and `InputError` (unreadable).
    """
    recording, out = Path(recording), Path(out)
    turns = _turns(recording)
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryFile(dir=out.parent, prefix=".rtlens-user-") as uf,
        tempfile.TemporaryFile(dir=out.parent, prefix=".rtlens-agent-") as af,
    ):
        user, agent = _Channel(uf), _Channel(af)
        state = _Pass(rate, mode, user, agent)
        for frame in read_frames(recording, on_progress):
            if isinstance(frame, Header):
                redaction = frame.fields.get("redaction")
                if isinstance(redaction, dict) and redaction.get("audio") is True:
                    raise NoAudioError(
                        f"{recording}: recorded with --redact-audio, so it holds no audio "
                        "(only its byte counts)"
                    )
                continue
            state.frame(frame)
        if not state.saw_audio:
            why = (
                "its audio was removed when it was recorded (--redact-audio)"
                if state.redacted
                else "it carries no audio payloads"
            )
            raise NoAudioError(f"{recording}: no audio to write: {why}")
        cuts, replies, users = state.results(turns)
        start, stop = 0, max(user.end, agent.end)
        if turn is not None:
            start, stop = _turn_window(recording, turn, turns, replies, users, rate)
        _interleave(out, user, agent, start, stop, rate)
    origin = state.origin if state.origin is not None else 0.0
    return AudioRender(
        out,
        origin,
        start / rate,
        (stop - start) / rate,
        rate,
        mode,
        turn,
        state.in_fmt_name or DEFAULT.name,
        state.out_fmt_name or DEFAULT.name,
        cuts,
        replies,
        users,
    )


def _turn_window(
    recording: Path,
    turn: int,
    turns: _Turns,
    replies: list[ReplySpan],
    users: list[UserSpan],
    rate: int,
) -> tuple[int, int]:
    """The samples `--turn` keeps: the turn's user audio and replies, with context."""
    n_turns = len(turns.rows)
    if not 1 <= turn <= n_turns:
        raise NoAudioError(f"{recording}: no turn {turn} (the session has {n_turns} turns)")
    starts = [u.start_s for u in users if u.turn == turn]
    ends = [u.end_s for u in users if u.turn == turn]
    starts += [r.start_s for r in replies if r.turn == turn]
    ends += [r.end_s for r in replies if r.turn == turn]
    if not starts:
        raise NoAudioError(f"{recording}: turn {turn} has no audio")
    start = max(0, round((min(starts) - CONTEXT_S) * rate))
    stop = round((max(ends) + CONTEXT_S) * rate)
    return start, stop


def _interleave(
    out: Path, user: _Channel, agent: _Channel, start: int, stop: int, rate: int
) -> None:
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        stereo = np.empty((_BLOCK_SAMPLES, 2), dtype="<i2")
        pos = start
        while pos < stop:
            n = min(_BLOCK_SAMPLES, stop - pos)
            stereo[:n, 0] = user.read(pos, n)
            stereo[:n, 1] = agent.read(pos, n)
            wav.writeframesraw(stereo[:n].tobytes())
            pos += n


def iter_reply_pcm(
    recording: str | Path, response_id: str, *, rate: int = 24000
) -> Iterator[bytes]:
    """All the audio generated for one response, as mono 16-bit little-endian PCM at
    `rate`, chunk by chunk (one pass over the recording, nothing else rendered).

    Its first `round(heard_s * rate)` samples are what was heard; the rest is the unheard
    remainder of a cut reply (see `unheard_clip`).
    """
    state = _Pass(rate, "generated", _Channel(_NullFile()), _Channel(_NullFile()))
    resampler: Resampler | None = None
    for frame in read_frames(recording):
        if isinstance(frame, Header):
            continue
        event = frame.event
        kind = event.get("type")
        spec = lookup(frame.direction, kind) if isinstance(kind, str) else None
        if spec is None:
            continue
        if spec.canonical != "response.output_audio.delta" or frame.direction != "server":
            if spec.canonical in ("session.created", "session.updated", "response.created"):
                state.frame(frame)  # only the formats matter here
            continue
        if event.get("response_id") != response_id:
            continue
        data = state._audio(frame, event.get("delta"))
        if data is None:
            continue
        fmt = state.response_fmt.get(response_id, state.out_fmt)
        if resampler is None:
            resampler = Resampler(fmt.rate, rate)
        yield to_int16(resampler.push(decode(fmt, data))).tobytes()


def unheard_clip(recording: str | Path, cut: Cut, out: str | Path, *, rate: int = 24000) -> float:
    """Write the part of a cut reply that was never heard (after `cut.heard_s`) as a mono
    WAV; return its length in seconds."""
    if cut.response_id is None:
        raise NoAudioError(f"{recording}: the cut reply has no response id")
    skip = round(cut.heard_s * rate) * 2
    written = 0
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        for chunk in iter_reply_pcm(recording, cut.response_id, rate=rate):
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            chunk, skip = chunk[skip:], 0
            wav.writeframesraw(chunk)
            written += len(chunk)
    return written / 2 / rate


class _NullFile:
    """A file that forgets what is written (for a pass that renders nothing)."""

    def seek(self, _pos: int) -> int:
        return 0

    def write(self, data: bytes) -> int:
        return len(data)

    def read(self, _n: int) -> bytes:
        return b""
