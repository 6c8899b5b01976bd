"""The session page's sound: the conversation and each cut reply's unheard remainder as
μ-law WAV data URIs, small enough to inline in one offline HTML file.

Why μ-law WAV: Chromium and Firefox play it natively, it needs no encoder beyond the G.711
table rtlens already has (no lame/ffmpeg/opus), and at 8 kHz it is telephone quality, which
is what a voice agent's audio is judged by anyway. Stereo (user left, agent right) is kept
while it fits `BUDGET_BYTES`; a longer call falls back to a mono mix, then to lower rates,
so a one-hour call's page stays under ~25 MB (see docs/session_page.md).
"""

from __future__ import annotations

import base64
import struct
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtlens.audio import AudioRender, NoAudioError, render_wav
from rtlens.g711 import encode_table

# Raw audio bytes allowed in the page (base64 makes them 4/3 larger: 22 MB of text), leaving
# room for the event inspector and unheard clips (~2.5 MB for a one-hour call) under 25 MB.
BUDGET_BYTES = 16_500_000
# (channels, rate) from best to smallest; the first whose size fits the budget is used.
LAYOUTS = ((2, 8000), (1, 8000), (1, 6000), (1, 4500), (1, 4000))
_WAVE_FORMAT_MULAW = 7
_BLOCK = 1 << 16  # frames read at a time: memory stays flat while encoding


@dataclass(frozen=True)
class UnheardClip:
    """A cut reply's remainder: what was generated after the point playback stopped."""

    response_id: str | None
    turn: int | None
    cut_at_s: float  # session seconds where playback stopped
    seconds: float
    data_uri: str


@dataclass
class PageAudio:
    """The conversation's sound for the page, and where things are on its timeline."""

    data_uri: str
    channels: int
    rate: int
    size_bytes: int  # of the encoded WAV, before base64
    duration_s: float  # of the WAV: the session's duration, or its last sound if later
    render: AudioRender  # heard-mode spans and cuts, session seconds (offset 0)
    clips: list[UnheardClip] = field(default_factory=list)


def choose_layout(duration_s: float, budget: int = BUDGET_BYTES) -> tuple[int, int]:
    """The best (channels, rate) whose μ-law WAV of `duration_s` fits `budget` bytes."""
    for channels, rate in LAYOUTS:
        if duration_s * rate * channels <= budget:
            return channels, rate
    return LAYOUTS[-1]


def page_audio(
    recording: str | Path, session_s: float | None = None, budget: int = BUDGET_BYTES
) -> PageAudio:
    """Render the recording's heard conversation (and generated audio for the unheard
    remainders) into data URIs. The WAV ends with its last sound; it is padded with silence
    to `session_s` (the session's duration) so the player spans the whole call and its
    timeline is the page's. Raises `NoAudioError` when the recording has no audio."""
    with tempfile.TemporaryDirectory(prefix="rtlens-page-") as tmp:
        wav = Path(tmp) / "heard.wav"
        # The layout is chosen from the session's duration, known before rendering, so a
        # long call is rendered once at its rate; only audio running past the session's end
        # (rare) can make the render longer, and then it is rendered again at the rate
        # that fits.
        channels, rate = choose_layout(session_s or 0.0, budget)
        render = render_wav(recording, wav, rate=rate)
        duration = max(render.duration_s, session_s or 0.0)
        if choose_layout(duration, budget) != (channels, rate):
            channels, rate = choose_layout(duration, budget)
            render = render_wav(recording, wav, rate=rate)
        frames = max(round(duration * rate), _frame_count(wav))
        data = _ulaw_wav_uri(_frames(wav, frames, mono=channels == 1), channels, rate)
        size = 46 + frames * channels
        clips = (
            _unheard_clips(recording, render, Path(tmp) / "generated.wav") if render.cuts else []
        )
    return PageAudio(data, channels, rate, size, frames / rate, render, clips)


def _unheard_clips(recording: str | Path, heard: AudioRender, tmp: Path) -> list[UnheardClip]:
    """One generated-mode render (one pass, whatever the number of cuts), sliced after each
    cut point: cheaper than a pass over the recording per cut reply."""
    rate = 8000
    generated = render_wav(recording, tmp, mode="generated", rate=rate)
    starts = {(r.response_id, r.item_id): r for r in generated.replies}
    clips = []
    with wave.open(str(tmp), "rb") as w:
        for cut in heard.cuts:
            reply = starts.get((cut.response_id, cut.item_id))
            if reply is None:
                continue
            first = round((reply.start_s + cut.heard_s) * rate)
            last = round(reply.generated_end_s * rate)
            if last <= first:
                continue
            w.setpos(min(first, w.getnframes()))
            agent = np.frombuffer(w.readframes(last - first), "<i2").reshape(-1, 2)[:, 1]
            uri = _ulaw_wav_uri(iter([agent]), 1, rate)
            clips.append(
                UnheardClip(cut.response_id, cut.turn, cut.cut_at_s, len(agent) / rate, uri)
            )
    return clips


def _frames(path: Path, frames: int, *, mono: bool) -> Iterator[np.ndarray]:
    """The 16-bit stereo WAV's samples in blocks, interleaved or mixed to mono, then
    silence up to `frames`."""
    channels = 1 if mono else 2
    with wave.open(str(path), "rb") as w:
        while raw := w.readframes(_BLOCK):
            stereo = np.frombuffer(raw, "<i2").reshape(-1, 2)
            frames -= len(stereo)
            if mono:
                yield ((stereo[:, 0].astype(np.int32) + stereo[:, 1]) // 2).astype("<i2")
            else:
                yield stereo.reshape(-1)
    while frames > 0:
        n = min(frames, _BLOCK)
        yield np.zeros(n * channels, "<i2")
        frames -= n


def _frame_count(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        return w.getnframes()


def _ulaw_wav_uri(blocks: Iterator[np.ndarray], channels: int, rate: int) -> str:
    """A μ-law WAV (format tag 7) as a data URI; blocks of int16 samples, interleaved."""
    table = encode_table("g711_ulaw")
    body = b"".join(table[b.astype(np.int32) + 32768].astype(np.uint8).tobytes() for b in blocks)
    fmt = struct.pack(
        "<HHIIHHH", _WAVE_FORMAT_MULAW, channels, rate, rate * channels, channels, 8, 0
    )
    head = (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(body))
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(body))
    )
    return "data:audio/wav;base64," + base64.b64encode(head + body).decode("ascii")


__all__ = [
    "BUDGET_BYTES",
    "NoAudioError",
    "PageAudio",
    "UnheardClip",
    "choose_layout",
    "page_audio",
]
