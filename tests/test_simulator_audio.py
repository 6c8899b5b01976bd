"""Audio codecs, synthetic speech and the energy VAD, tested without a server."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtlens.simulator import audio
from rtlens.simulator.vad import EnergyVad


def test_g711_known_code_points():
    # ITU-T G.711 reference values (Sun g711.c)
    assert audio.ulaw_decode_sample(0x00) == -32124
    assert audio.ulaw_decode_sample(0x80) == 32124
    assert audio.ulaw_decode_sample(0xFF) == 0
    assert audio.ulaw_encode_sample(0) == 0xFF
    assert audio.alaw_decode_sample(0xD5) == 8
    assert audio.alaw_decode_sample(0x55) == -8
    assert audio.alaw_decode_sample(0xAA) == 32256
    assert audio.alaw_decode_sample(0x2A) == -32256
    assert audio.alaw_encode_sample(0) == 0xD5


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
def test_g711_every_code_survives_decode_encode(fmt):
    codes = bytes(range(256))
    decoded = audio.decode(fmt, codes)
    again = audio.encode(fmt, decoded)
    # μ-law has two zeros (0x7F and 0xFF); every other code maps back to itself
    assert sum(a != b for a, b in zip(codes, again, strict=True)) <= 1


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(-32768, 32767), min_size=1, max_size=200),
    st.sampled_from(["g711_ulaw", "g711_alaw"]),
)
def test_g711_round_trip_error_is_logarithmic(samples, fmt):
    pcm = np.array(samples, dtype=np.float32) / 32768
    back = audio.decode(fmt, audio.encode(fmt, pcm)) * 32768
    error = np.abs(back - np.array(samples))
    assert np.all(error <= np.maximum(64, np.abs(samples) / 12))


def test_pcm16_round_trip_and_durations():
    samples = audio.speech(500, 24000, random.Random(1))
    data = audio.encode("pcm16", samples)
    assert len(data) == 24000 and audio.duration_ms("pcm16", len(data)) == 500
    assert np.max(np.abs(audio.decode("pcm16", data) - samples)) < 1e-4
    assert audio.duration_ms("g711_ulaw", 8000) == 1000


def test_assistant_voice_lasts_as_long_as_the_text_takes_to_say():
    text = "Sure, I can help with that. What would you like to do next?"
    data = audio.assistant_voice(text, "pcm16", random.Random(0))
    assert audio.duration_ms("pcm16", len(data)) == pytest.approx(1000 * len(text) / 15, abs=1)


def _track(*segments, rate=24000, seed=0):
    rng = random.Random(seed)
    return np.concatenate(
        [
            audio.speech(ms, rate, rng) if kind == "speech" else audio.silence(ms, rate, rng)
            for kind, ms in segments
        ]
    )


def _feed(vad, samples, chunk, rate=24000):
    events, pos = [], 0.0
    for start in range(0, len(samples), chunk):
        piece = samples[start : start + chunk]
        events += vad.feed(piece, rate, pos)
        pos += len(piece) * 1000 / rate
    return [(e.kind, e.audio_ms) for e in events]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=30000))
def test_vad_events_do_not_depend_on_chunking(chunk):
    samples = _track(
        ("silence", 800), ("speech", 1200), ("silence", 900), ("speech", 700), ("silence", 700)
    )
    expected = _feed(EnergyVad(0.5, 300, 500), samples, len(samples))
    assert _feed(EnergyVad(0.5, 300, 500), samples, chunk) == expected
    assert [k for k, _ in expected] == ["speech_started", "speech_stopped"] * 2


def test_vad_includes_prefix_padding_and_silence_window():
    samples = _track(("silence", 2000), ("speech", 1000), ("silence", 1000))
    events = _feed(EnergyVad(0.5, 300, 500), samples, 480)
    assert events[0][0] == "speech_started" and abs(events[0][1] - 1700) <= 20
    assert events[1][0] == "speech_stopped" and abs(events[1][1] - 3500) <= 20


def test_vad_threshold_ignores_quiet_noise_and_short_dips():
    quiet = audio.silence(3000, 24000, random.Random(0), level_db=-45)
    assert _feed(EnergyVad(0.5, 300, 200), quiet, 480) == []
    # a strict threshold hears nothing of normal speech; a lax one hears it
    speech = _track(("silence", 300), ("speech", 1500), ("silence", 600))
    assert _feed(EnergyVad(0.99, 300, 200), speech, 480) == []
    assert len(_feed(EnergyVad(0.3, 300, 200), speech, 480)) == 2
