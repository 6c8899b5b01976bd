"""`rtlens audio`: the sound itself, checked with numpy over the WAV written.

Two kinds of recordings:
- hand-built ones (tests/builders.py), where every line's time and every sample is chosen, so
  the expected WAV is worked out exactly beside each test;
- simulator sessions through the real relay (pcm16 and G.711), where the app notes when it
  spoke and what it heard, and the WAV must show energy there and silence elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import Session
from click.testing import CliRunner
from relay_helpers import async_test, only_recording
from websockets.asyncio.client import connect

from rtlens.audio import NoAudioError, iter_reply_pcm, render_wav, unheard_clip
from rtlens.cli import main
from rtlens.g711 import encode_table
from rtlens.recording import serve_relay
from rtlens.simulator import SimulatorConfig
from rtlens.simulator import audio as sim_audio
from rtlens.simulator import serve as simulator_serve
from rtlens.simulator.apps import payloads
from rtlens.simulator.apps.client import AUDIO_DELTAS, App, AppResult
from rtlens.simulator.apps.payloads import DEFAULT_MODEL

RATE = 24000


def pcm(value: int, ms: float, rate: int = 24000) -> str:
    """Base64 of `ms` of a constant int16 `value` at `rate` (pcm16)."""
    return base64.b64encode(np.full(round(ms * rate / 1000), value, "<i2").tobytes()).decode()


def ulaw(value: int, ms: float) -> str:
    """Base64 of `ms` of a constant `value`, μ-law encoded at 8 kHz."""
    code = encode_table("g711_ulaw")[value + 32768]
    return base64.b64encode(bytes([code]) * round(ms * 8)).decode()


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (2, 2)
        frames = wav.readframes(wav.getnframes())
        return wav.getframerate(), np.frombuffer(frames, "<i2").reshape(-1, 2)


def s(seconds: float) -> int:
    return round(seconds * RATE)


# ---- a hand-built beta session ------------------------------------------------------------------


def beta_barge_in(tmp_path: Path) -> Path:
    """Two turns. User audio: 1 s of value 1000 sent in real time from t=1.0 s (ten 100 ms
    chunks), then 0.5 s of value 2000 sent in one burst at t=3.0 s. Reply 1 (item_a1): two
    0.5 s deltas of 3000 at t=2.2 s. Reply 2 (item_a2): 1 s of 4000 at t=2.5 s, while
    reply 1 still plays; the app truncates it at audio_end_ms 400 at t=3.6 s."""
    fmt = {"input_audio_format": "pcm16", "output_audio_format": "pcm16"}
    rec = Session().server(0, "session.created", session={"id": "sess_1", **fmt})
    for k in range(10):
        rec.client(1000 + 100 * k, "input_audio_buffer.append", audio=pcm(1000, 100))
    rec.server(1100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u1")
    rec.server(2000, "input_audio_buffer.speech_stopped", audio_end_ms=1000, item_id="item_u1")
    rec.server(2010, "input_audio_buffer.committed", item_id="item_u1", previous_item_id=None)
    rec.server(2020, "response.created", response={"id": "resp_1", "status": "in_progress"})
    for k in range(2):
        rec.server(
            2200 + k, "response.audio.delta", response_id="resp_1", item_id="item_a1",
            output_index=0, content_index=0, delta=pcm(3000, 500),
        )  # fmt: skip
    rec.server(2300, "response.done", response={"id": "resp_1", "status": "completed"})
    rec.server(2400, "input_audio_buffer.committed", item_id="item_u2", previous_item_id="item_u1")
    rec.server(2410, "response.created", response={"id": "resp_2", "status": "in_progress"})
    rec.server(
        2500, "response.audio.delta", response_id="resp_2", item_id="item_a2",
        output_index=0, content_index=0, delta=pcm(4000, 1000),
    )  # fmt: skip
    rec.server(2600, "response.done", response={"id": "resp_2", "status": "completed"})
    for _ in range(5):
        rec.client(3000, "input_audio_buffer.append", audio=pcm(2000, 100))
    rec.client(3600, "conversation.item.truncate", item_id="item_a2", content_index=0,
               audio_end_ms=400)  # fmt: skip
    rec.close(4000)
    return rec.write(tmp_path / "beta.jsonl")


def test_heard_places_user_and_agent_audio_on_the_timeline(tmp_path):
    result = render_wav(beta_barge_in(tmp_path), tmp_path / "out.wav")
    rate, w = read_wav(tmp_path / "out.wav")
    assert rate == RATE and result.origin_ts == pytest.approx(1_764_067_052.0)
    user, agent = w[:, 0], w[:, 1]
    # User: the first append (t=1.0 s) is 1.0 s after the user cursor (0), more than the
    # 0.5 s gap, so it starts where it was sent: 1.0 s. The next nine arrive as the audio
    # before them ends: contiguous to 2.0 s. The burst at 3.0 s: 1.0 s after 2.0 s, a new run
    # at 3.0 s, its five chunks back to back to 3.5 s.
    assert (user[: s(1.0)] == 0).all()
    assert (user[s(1.0) : s(2.0)] == 1000).all()
    assert (user[s(2.0) : s(3.0)] == 0).all()
    assert (user[s(3.0) : s(3.5)] == 2000).all()
    assert (user[s(3.5) :] == 0).all()
    # Agent: reply 1 starts at its first delta (2.2 s) and lasts 1.0 s -> 3.2 s. Reply 2's
    # first delta came at 2.5 s, still inside reply 1: it is queued after it, 3.2 s, and cut
    # 0.4 s in (the truncate's audio_end_ms): 3.6 s; silence after.
    assert (agent[: s(2.2)] == 0).all()
    assert (agent[s(2.2) : s(3.2)] == 3000).all()
    assert (agent[s(3.2) : s(3.6)] == 4000).all()
    assert (agent[s(3.6) :] == 0).all()
    # The file runs to the end of the last audio written: reply 2 was written to 4.2 s
    # before its truncate came (then silenced from 3.6 s).
    assert len(w) == s(4.2)
    (cut,) = result.cuts
    assert (cut.response_id, cut.item_id, cut.turn, cut.source) == (
        "resp_2", "item_a2", 2, "truncate",
    )  # fmt: skip
    assert (cut.start_s, cut.generated_s, cut.heard_s, cut.cut_at_s) == pytest.approx(
        (3.2, 1.0, 0.4, 3.6)
    )
    spans = {r.item_id: r for r in result.replies}
    assert (spans["item_a1"].start_s, spans["item_a1"].end_s) == pytest.approx((2.2, 3.2))
    assert (spans["item_a2"].heard_end_s, spans["item_a2"].generated_end_s) == pytest.approx(
        (3.6, 4.2)
    )
    # Turn 1's user audio: audio_start_ms 0 .. audio_end_ms 1000 of the input timeline, the
    # first run (placed at 1.0 s): 1.0 .. 2.0 s (1000 ms is also where the second run
    # starts; as an end it is the first run's). Turn 2 (committed, no VAD) has no audio
    # appended between its commit and the one before: no span.
    assert [(u.turn, u.start_s, u.end_s) for u in result.user_spans] == [(1, 1.0, 2.0)]


def test_generated_keeps_the_whole_reply_and_the_next_one_after_it(tmp_path):
    result = render_wav(beta_barge_in(tmp_path), tmp_path / "gen.wav", mode="generated")
    _, w = read_wav(tmp_path / "gen.wav")
    # Reply 2 keeps its 1.0 s: 3.2 .. 4.2 s of 4000; the cut is still reported.
    assert (w[s(3.2) : s(4.2), 1] == 4000).all()
    assert (w[s(4.2) :, 1] == 0).all()
    assert [c.cut_at_s for c in result.cuts] == pytest.approx([3.6])
    assert [r.end_s for r in result.replies] == pytest.approx([3.2, 4.2])


def test_turn_writes_that_turn_with_a_second_of_context(tmp_path):
    result = render_wav(beta_barge_in(tmp_path), tmp_path / "t1.wav", turn=1)
    _, w = read_wav(tmp_path / "t1.wav")
    # Turn 1: user 1.0 .. 2.0 s, reply 2.2 .. 3.2 s -> 0.0 .. 4.2 s with a second each side.
    assert result.offset_s == pytest.approx(0.0) and len(w) == s(4.2)
    result = render_wav(beta_barge_in(tmp_path), tmp_path / "t2.wav", turn=2)
    _, w = read_wav(tmp_path / "t2.wav")
    # Turn 2: no user audio, its reply 3.2 .. 3.6 s (heard) -> 2.2 .. 4.6 s; WAV time =
    # session time - 2.2, so reply 2 lies at 1.0 .. 1.4 s, after 1.0 s of reply 1.
    assert result.offset_s == pytest.approx(2.2)
    assert result.duration_s == pytest.approx(2.4)
    assert (w[: s(1.0), 1] == 3000).all()
    assert (w[s(1.0) : s(1.4), 1] == 4000).all()
    assert (w[s(1.4) :, 1] == 0).all()
    with pytest.raises(NoAudioError, match=r"no turn 3 \(the session has 2 turns\)"):
        render_wav(beta_barge_in(tmp_path), tmp_path / "t3.wav", turn=3)


def test_unheard_remainder_of_a_cut_reply(tmp_path):
    path = beta_barge_in(tmp_path)
    result = render_wav(path, tmp_path / "out.wav")
    # Reply 2 generated 1.0 s, 0.4 s heard: 0.6 s (14,400 samples) of 4000 were never heard.
    pcm_bytes = b"".join(iter_reply_pcm(path, "resp_2"))
    assert np.frombuffer(pcm_bytes, "<i2").tolist() == [4000] * s(1.0)
    seconds = unheard_clip(path, result.cuts[0], tmp_path / "rest.wav")
    assert seconds == pytest.approx(0.6)
    with wave.open(str(tmp_path / "rest.wav"), "rb") as wav:
        assert wav.getnchannels() == 1
        rest = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert rest.tolist() == [4000] * s(0.6)


def test_g711_decodes_and_resamples_to_the_output_rate(tmp_path):
    """GA, μ-law both ways. μ-law of 1000: magnitude 1000 + 132 (bias) = 1132 is 11 bits ->
    exponent 3, mantissa (1132 >> 6) & 15 = 1, code ~0x31 = 0xCE; decoding: ((1 << 3) + 132)
    << 3 = 1120, minus the bias: 988. Linear interpolation of a constant is that constant."""
    ga = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}},
                                        "output": {"format": {"type": "audio/pcmu"}}}}  # fmt: skip
    rec = Session().server(0, "session.created", session=ga)
    for k in range(10):
        rec.client(600 + 100 * k, "input_audio_buffer.append", audio=ulaw(1000, 100))
    rec.server(2000, "response.created", response={"id": "resp_1", "status": "in_progress"})
    rec.server(
        2000, "response.output_audio.delta", response_id="resp_1", item_id="item_a",
        output_index=0, content_index=0, delta=ulaw(-1000, 500),
    )  # fmt: skip
    path = rec.close(3000).write(tmp_path / "ulaw.jsonl")
    result = render_wav(path, tmp_path / "u.wav")
    _, w = read_wav(tmp_path / "u.wav")
    assert (result.input_format, result.output_format) == ("g711_ulaw", "g711_ulaw")
    # 1 s of 8 kHz = 8,000 samples -> 24,000 at 24 kHz, less the two samples a linear
    # interpolator cannot place after the last input sample: 0.6 s (more than the 0.5 s
    # gap after the cursor at 0, so where it was sent) .. 1.6 s, minus 2.
    assert (w[: s(0.6), 0] == 0).all()
    assert (w[s(0.6) : s(1.6) - 2, 0] == 988).all()
    assert (w[s(1.6) - 2 :, 0] == 0).all()
    assert (w[s(2.0) : s(2.5) - 2, 1] == -988).all()


def test_cleared_cuts_where_the_server_stopped_playback(tmp_path):
    """WebRTC-style: the server clears its output buffer 0.3 s after the reply started."""
    rec = Session().server(0, "session.created", session={"output_audio_format": "pcm16"})
    rec.server(1000, "response.created", response={"id": "resp_1", "status": "in_progress"})
    rec.server(
        1000, "response.audio.delta", response_id="resp_1", item_id="item_a",
        output_index=0, content_index=0, delta=pcm(500, 1000),
    )  # fmt: skip
    rec.server(1300, "output_audio_buffer.cleared", response_id="resp_1")
    path = rec.close(2500).write(tmp_path / "cleared.jsonl")
    result = render_wav(path, tmp_path / "c.wav")
    _, w = read_wav(tmp_path / "c.wav")
    assert (w[s(1.0) : s(1.3), 1] == 500).all()
    assert (w[s(1.3) :, 1] == 0).all()
    (cut,) = result.cuts
    assert (cut.source, cut.heard_s, cut.generated_s) == ("output_audio_buffer.cleared", 0.3, 1.0)


def test_redacted_recording_is_a_one_line_error_exit_2(tmp_path):
    rec = Session()
    header = json.loads(rec.lines[0])
    header["redaction"] = {"secrets": True, "audio": True}
    rec.lines[0] = json.dumps(header).encode()
    rec.raw(json.dumps({"ts": 1_764_067_053.0, "dir": "client", "audio_bytes": 4800,
                        "event": {"type": "input_audio_buffer.append", "audio": ""}}))  # fmt: skip
    path = rec.write(tmp_path / "redacted.jsonl")
    out = CliRunner().invoke(main, ["audio", str(path), "-o", str(tmp_path / "r.wav")])
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines() if out.stderr_bytes else out.output.strip().splitlines()
    assert len(lines) == 1 and "--redact-audio" in lines[0] and str(path) in lines[0]
    assert not (tmp_path / "r.wav").exists()


def test_cli_no_such_turn_is_one_line_exit_2(tmp_path):
    path = beta_barge_in(tmp_path)
    out = CliRunner().invoke(main, ["audio", str(path), "--turn", "9"])
    assert out.exit_code == 2
    assert out.output.strip().splitlines() == [
        f"Error: {path}: no turn 9 (the session has 2 turns)"
    ]


def test_cli_writes_the_wav_and_the_side_json(tmp_path):
    path = beta_barge_in(tmp_path)
    out = CliRunner().invoke(main, ["audio", str(path), "-o", str(tmp_path / "a.wav")])
    assert out.exit_code == 0, out.output
    side = json.loads((tmp_path / "a.json").read_text())
    assert side["channels"] == {"left": "user", "right": "agent"}
    assert [c["cut_at_s"] for c in side["cuts"]] == pytest.approx([3.6])
    assert read_wav(tmp_path / "a.wav")[1].shape == (s(4.2), 2)


# ---- simulator sessions through the relay ------------------------------------------------


class _KeepingApp(App):
    """The scripted app, keeping every chunk of microphone samples it encodes (float, at
    the wire rate): the waveform the G.711 check compares the WAV against."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept: list[np.ndarray] = []

    async def _chunk(self, samples: Any) -> None:
        self.kept.append(np.asarray(samples, dtype=np.float64).copy())
        await super()._chunk(samples)


class _Notes:
    """What the app knew, in seconds on its monotonic clock from its first received event
    (`session.created`, which the relay logged a moment before: the recording's origin)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.origin = app.result.received_at[0]
        self.speech: list[tuple[float, float, int, int]] = []  # start, end, kept[a:b]

    def at(self, index: int) -> float:
        return self.app.result.received_at[index] - self.origin

    def first_delta(self, response_id: str) -> float:
        return self.at(
            next(
                i
                for i, e in enumerate(self.app.result.received)
                if e.get("type") in AUDIO_DELTAS and e.get("response_id") == response_id
            )
        )

    def generated_s(self, response_id: str) -> float:
        n = sum(
            len(base64.b64decode(e["delta"]))
            for e in self.app.result.received
            if e.get("type") in AUDIO_DELTAS and e.get("response_id") == response_id
        )
        return sim_audio.duration_ms(self.app.output_format, n) / 1000


async def _say(app: _KeepingApp, notes: _Notes, ms: float) -> None:
    first = len(app.kept)
    start = time.monotonic() - notes.origin
    await app.say(ms)
    notes.speech.append((start, time.monotonic() - notes.origin, first, len(app.kept)))


async def _barge_in_call(app: _KeepingApp, fmt: str) -> _Notes:
    """Speak, let the reply play 0.6 s, talk over it (the app truncates on speech_started),
    hear the second reply out."""
    app.audio_format = app.output_format = fmt
    await app.wait_type("session.created")
    notes = _Notes(app)
    mark = app.mark()
    session = payloads.session_update(app.dialect, instructions="Be brief.", audio_format=fmt)
    await app.send({"type": "session.update", "session": session})
    await app.wait_type("session.updated", mark)
    await app.idle(400)
    mark = app.mark()
    await _say(app, notes, 1200)
    await app.idle(800)
    first = (await app.wait_type("response.created", mark))["response"]["id"]
    await app.wait_for(lambda e: e.get("type") in AUDIO_DELTAS and e["response_id"] == first)
    await app.idle(600)
    mark = app.mark()
    await _say(app, notes, 1000)
    await app.idle(800)
    second = (await app.wait_type("response.created", mark))["response"]["id"]
    await app.wait_for(lambda e: e.get("type") == "response.done" and e["response"]["id"] == second)
    await app.finish_playback()
    await app.idle(300)
    notes.responses = (first, second)  # type: ignore[attr-defined]
    return notes


def _simulated_call(tmp_path: Path, dialect: str, fmt: str) -> tuple[Path, _Notes, _KeepingApp]:
    out: dict[str, Any] = {}

    @async_test
    async def run() -> None:
        async with (
            simulator_serve("127.0.0.1", 0, SimulatorConfig(pace=1.0), log=None) as sim,
            serve_relay(
                "127.0.0.1", 0, upstream=f"ws://127.0.0.1:{sim.port}", out_dir=tmp_path / "rec",
                report=None,
            ) as relay,
        ):  # fmt: skip
            headers = {"Authorization": "Bearer sk-rtlens-sim"}
            if dialect == "beta":
                headers["OpenAI-Beta"] = "realtime=v1"
            url = f"ws://127.0.0.1:{relay.port}/v1/realtime?model={DEFAULT_MODEL[dialect]}"
            async with connect(url, additional_headers=headers, max_size=None) as ws:
                app = _KeepingApp(ws, AppResult("audio-test", dialect), seed=5, pace=1.0)
                reader = asyncio.create_task(app.reader())
                out["notes"] = await _barge_in_call(app, fmt)
                out["app"] = app
                await ws.close()
                await reader

    run()
    return only_recording(tmp_path / "rec").path, out["notes"], out["app"]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


# Levels (int16 RMS): the simulator's speech is -20 dBFS at its syllables' peak (about 3,300;
# over half a second with its dips, well above 300) and its room noise -66 dBFS (about 16);
# digital silence is 0. "Energy" is RMS > 300, "silence" RMS < 100.
LOUD, QUIET = 300.0, 100.0
# User audio may be placed up to USER_GAP_S (0.5 s) before it was sent (a sender falling
# behind is played on contiguously until it is that late), and the app's notes are taken
# a few ms around the sends: windows are shrunk by 0.1 s, and by 0.6 s at a user
# utterance's end.


def test_pcm16_session_user_and_agent_energy_where_they_spoke(tmp_path):
    path, notes, app = _simulated_call(tmp_path, "ga", "pcm16")
    first, second = notes.responses  # type: ignore[attr-defined]
    (truncate,) = app.result.truncations
    result = render_wav(path, tmp_path / "call.wav")
    _, w = read_wav(tmp_path / "call.wav")
    user, agent = w[:, 0], w[:, 1]
    (a1, b1, _, _), (a2, b2, _, _) = notes.speech
    # The user channel: energy while the app spoke, (room noise) quiet between.
    assert _rms(user[s(a1 + 0.1) : s(b1 - 0.6)]) > LOUD
    assert _rms(user[s(a2 + 0.1) : s(b2 - 0.6)]) > LOUD
    assert _rms(user[s(b1 + 0.1) : s(a2 - 0.6)]) < QUIET
    assert _rms(user[s(b2 + 0.1) :]) < QUIET
    # The agent channel: silent before the first reply; the first reply plays from its
    # first delta for the audio_end_ms the app reported when it stopped playback.
    d1, d2 = notes.first_delta(first), notes.first_delta(second)
    heard = truncate["audio_end_ms"] / 1000
    assert _rms(agent[: s(d1 - 0.1)]) == 0
    assert _rms(agent[s(d1 + 0.1) : s(d1 + heard - 0.1)]) > LOUD
    # --heard: silence after the cut (the app stopped when speech_started arrived, at the
    # latest) until the second reply's first delta, which then plays out.
    started = notes.at(
        max(
            i
            for i, e in enumerate(app.result.received)
            if e["type"] == "input_audio_buffer.speech_started"
        )
    )
    assert _rms(agent[s(started + 0.05) : s(d2 - 0.05)]) == 0
    assert _rms(agent[s(d2 + 0.1) : s(d2 + notes.generated_s(second) - 0.1)]) > LOUD
    (cut,) = result.cuts
    assert cut.response_id == first and cut.heard_s == pytest.approx(heard, abs=1e-3)
    # No user audio in the agent channel and no agent audio in the user channel.
    assert _rms(user[s(d2 + 0.1) : s(d2 + notes.generated_s(second) - 0.1)]) < QUIET
    # --generated: the simulator sends a reply faster than it plays, so more than half a
    # second of the first reply was never heard; here it plays on after the cut point.
    unheard = notes.generated_s(first) - heard
    assert unheard > 0.5
    render_wav(path, tmp_path / "all.wav", mode="generated")
    _, g = read_wav(tmp_path / "all.wav")
    assert _rms(g[s(d1 + heard + 0.05) : s(d1 + heard + 0.45), 1]) > LOUD


def test_g711_session_decodes_to_the_waveform_the_simulator_encoded(tmp_path):
    path, notes, app = _simulated_call(tmp_path, "beta", "g711_ulaw")
    render_wav(path, tmp_path / "call.wav")
    _, w = read_wav(tmp_path / "call.wav")
    a1, _, first, last = notes.speech[0]
    # The app's first utterance as it encoded it (8 kHz, int16 scale), at 24 kHz by linear
    # interpolation (three output samples per input sample).
    said = np.concatenate(app.kept[first:last]) * 32767.0
    ref = np.interp(np.arange(3 * len(said) - 2) / 3, np.arange(len(said)), said)
    # Cut into 0.2 s pieces, each found in the user channel near where it was sent (within
    # the 0.5 s placement bound) by cross-correlation and compared sample by sample: μ-law
    # keeps about 38 dB of SNR on speech, so the residual must stay under 5% of the signal.
    # One piece may miss: if the app's paced microphone fell 0.5 s behind the wall clock on
    # a loaded host, its audio is placed anew there, splitting the piece it falls in.
    piece = s(0.2)
    missed = []
    for offset in range(0, len(ref) - piece + 1, piece):
        want = ref[offset : offset + piece]
        lo = max(0, s(a1 - 0.6) + offset)
        region = w[lo : lo + piece + s(0.7), 0].astype(np.float64)
        n = len(region) + piece
        corr = np.fft.irfft(np.fft.rfft(region, n) * np.conj(np.fft.rfft(want, n)), n)
        lag = int(np.argmax(corr[: len(region) - piece + 1]))
        if _rms(region[lag : lag + piece] - want) >= 0.05 * _rms(want):
            missed.append(offset / RATE)
    # 1.2 s of speech at 24 kHz (28,800 samples, less the 2 an interpolator cannot place)
    # make five whole pieces.
    assert len(range(0, len(ref) - piece + 1, piece)) == 5
    assert len(missed) <= 1, missed


def test_audio_of_an_item_the_app_created_is_user_audio_where_it_was_sent(tmp_path):
    item = {"id": "item_u", "type": "message", "role": "user",
            "content": [{"type": "input_audio", "audio": pcm(700, 500)}]}  # fmt: skip
    rec = Session().server(0, "session.created", session={"input_audio_format": "pcm16"})
    rec.client(1000, "conversation.item.create", item=item)
    path = rec.close(2000).write(tmp_path / "item.jsonl")
    render_wav(path, tmp_path / "i.wav")
    _, w = read_wav(tmp_path / "i.wav")
    # Sent at 1.0 s, 1.0 s after the user cursor (0): placed at 1.0 s, 0.5 s long.
    assert (w[: s(1.0), 0] == 0).all()
    assert (w[s(1.0) : s(1.5), 0] == 700).all()
    assert len(w) == s(1.5) and (w[:, 1] == 0).all()


def test_gzip_recordings_render_the_same(tmp_path):
    import gzip

    plain = beta_barge_in(tmp_path)
    packed = tmp_path / "beta.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    render_wav(plain, tmp_path / "p.wav")
    render_wav(packed, tmp_path / "g.wav")
    assert (tmp_path / "p.wav").read_bytes() == (tmp_path / "g.wav").read_bytes()
