"""The session page in a real browser (Debian's Chromium through Playwright): a simulator
call of three turns through the real relay, the third barging in on the second reply."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import chromium_page
from relay_helpers import async_test, only_recording
from websockets.asyncio.client import connect

from rtlens.recording import serve_relay
from rtlens.report.build import build
from rtlens.report.page_audio import choose_layout
from rtlens.report.session_page import split_heard
from rtlens.simulator import SimulatorConfig
from rtlens.simulator import serve as simulator_serve
from rtlens.simulator.apps import payloads
from rtlens.simulator.apps.client import AUDIO_DELTAS, App, AppResult
from rtlens.simulator.apps.payloads import DEFAULT_MODEL


async def _three_turns(app: App) -> dict[str, Any]:
    """Turn 1 heard out; turn 2's reply plays 0.6 s, then turn 3 talks over it (the app
    truncates on speech_started); turn 3's reply heard out. Notes on the app's clock, in
    seconds from its receipt of session.created (the recording's origin, a moment later)."""
    await app.wait_type("session.created")
    origin = app.result.received_at[0]
    notes: dict[str, Any] = {"says": []}
    mark = app.mark()
    session = payloads.session_update(app.dialect, instructions="Be brief.", audio_format="pcm16")
    await app.send({"type": "session.update", "session": session})
    await app.wait_type("session.updated", mark)
    await app.idle(300)

    async def say(ms: float) -> int:
        mark = app.mark()
        notes["says"].append(time.monotonic() - origin)
        await app.say(ms)
        await app.idle(800)
        return mark

    mark = await say(1000)
    first = (await app.wait_type("response.created", mark))["response"]["id"]
    await app.wait_for(lambda e: e.get("type") == "response.done" and e["response"]["id"] == first)
    await app.finish_playback()
    await app.idle(300)
    mark = await say(1000)
    second = (await app.wait_type("response.created", mark))["response"]["id"]
    await app.wait_for(lambda e: e.get("type") in AUDIO_DELTAS and e["response_id"] == second)
    await app.idle(600)
    mark = await say(1000)
    third = (await app.wait_type("response.created", mark))["response"]["id"]
    await app.wait_for(lambda e: e.get("type") == "response.done" and e["response"]["id"] == third)
    await app.finish_playback()
    await app.idle(300)
    notes["responses"] = (first, second, third)
    return notes


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], App]:
    tmp = tmp_path_factory.mktemp("page")
    out: dict[str, Any] = {}

    @async_test
    async def run() -> None:
        async with (
            simulator_serve("127.0.0.1", 0, SimulatorConfig(pace=1.0), log=None) as sim,
            serve_relay(
                "127.0.0.1", 0, upstream=f"ws://127.0.0.1:{sim.port}", out_dir=tmp / "rec",
                report=None,
            ) as relay,
        ):  # fmt: skip
            url = f"ws://127.0.0.1:{relay.port}/v1/realtime?model={DEFAULT_MODEL['ga']}"
            headers = {"Authorization": "Bearer sk-rtlens-sim"}
            async with connect(url, additional_headers=headers, max_size=None) as ws:
                app = App(ws, AppResult("page-test", "ga"), seed=7, pace=1.0)
                reader = asyncio.create_task(app.reader())
                out["notes"] = await _three_turns(app)
                out["app"] = app
                await ws.close()
                await reader

    run()
    return only_recording(tmp / "rec").path, out["notes"], out["app"]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_split_heard_cuts_at_the_share_on_a_word_boundary():
    # 20 characters, 40% heard: index 8 falls inside "world" (7..11), so back to index 7.
    assert split_heard("helloo world, again!", 0.4) == ("helloo ", "world, again!")
    assert split_heard("abc", 1.0) == ("abc", "")
    assert split_heard("abc", 0.0) == ("", "abc")


def _session_s(lines: list[dict[str, Any]]) -> float:
    """The session's length: its first timestamped line to its close line."""
    ts = [line["ts"] for line in lines if "ts" in line]
    return ts[-1] - ts[0]


def _turn3_bracket(lines: list[dict[str, Any]]) -> tuple[float, float]:
    """Where turn 3's user audio can sit: the wire's third speech_started says its audio
    starts at input millisecond `audio_start_ms` (the 300 ms prefix padding included). The
    app streamed its microphone from its first append, so that millisecond plays at the
    first append's time + audio_start_ms at the earliest, and at the latest at its place in
    the append carrying it, played from when it was sent (pcm16 24 kHz: 48 bytes a ms)."""
    origin = next(line["ts"] for line in lines if "ts" in line)
    events = [(line["ts"] - origin, line["event"]) for line in lines if "event" in line]
    starts = [e for _, e in events if e.get("type") == "input_audio_buffer.speech_started"]
    input_ms = starts[2]["audio_start_ms"]
    appends = [(t, e) for t, e in events if e.get("type") == "input_audio_buffer.append"]
    sent_ms = 0.0
    for t, e in appends:
        before = sent_ms
        sent_ms += len(base64.b64decode(e["audio"])) / 48
        if sent_ms > input_ms:  # this append's audio, placed from when it was sent
            return appends[0][0] + input_ms / 1000, t + (input_ms - before) / 1000
    raise AssertionError("turn 3's audio was never sent")


def _reply(lines: list[dict[str, Any]], response_id: str) -> tuple[float, str]:
    """A reply's generated seconds (pcm16 24 kHz deltas) and its final transcript."""
    events = [line["event"] for line in lines if "event" in line]
    n = sum(
        len(base64.b64decode(e["delta"]))
        for e in events
        if e.get("type") in AUDIO_DELTAS and e.get("response_id") == response_id
    )
    (done,) = [
        e
        for e in events
        if e.get("type") == "response.output_audio_transcript.done"
        and e.get("response_id") == response_id
    ]
    return n / 48000, done["transcript"]


def test_session_page_plays_seeks_and_inspects_in_chromium(call, tmp_path):
    path, notes, app = call
    lines = _lines(path)
    _, second, third = notes["responses"]
    (truncate,) = app.result.truncations
    heard = truncate["audio_end_ms"] / 1000
    generated, transcript = _reply(lines, second)
    out = tmp_path / "page.html"
    out.write_text(build([path], html=True).html(), encoding="utf-8")
    player = "document.getElementById('player')"
    with chromium_page() as browser:
        page = browser.page
        page.goto(out.as_uri())
        page.wait_for_function(f"{player}.readyState >= 1")
        duration = page.evaluate(f"{player}.duration")
        page.click('#conv li[data-turn="3"]')
        page.wait_for_function(f"!{player}.seeking")
        current = page.evaluate(f"{player}.currentTime")
        playhead = page.evaluate("parseFloat(document.getElementById('playhead').style.left)")
        inspector = page.inner_text("#inspector")
        # The matplotlib timeline follows too: its playhead sits at the axes' x of `current`,
        # and a click at the axes' x of 5 s seeks to 5 s.
        fig = page.locator(".figsync")
        axes = {
            k: float(fig.get_attribute(f"data-{k}") or "nan") for k in ("left", "width", "x0", "x1")
        }

        def fraction(t: float) -> float:
            return axes["left"] + axes["width"] * (t - axes["x0"]) / (axes["x1"] - axes["x0"])

        fig_head = page.evaluate("parseFloat(document.querySelector('.fighead').style.left)")
        box = fig.bounding_box()
        assert box is not None
        fig.click(position={"x": fraction(5.0) * box["width"], "y": box["height"] / 2})
        page.wait_for_function(f"!{player}.seeking")
        fig_seek = page.evaluate(f"{player}.currentTime")
        page.click('#conv li[data-turn="3"]')
        page.wait_for_function(f"!{player}.seeking")
        cut_line = page.locator('#conv li[data-turn="2"] .unheard')
        struck = cut_line.evaluate("e => getComputedStyle(e).textDecorationLine")
        unheard_text = cut_line.inner_text()
        page.click('#conv li[data-turn="2"] button.play-unheard')
        # play() unpauses at once; the clip's duration is known once its metadata is read
        page.wait_for_function(
            "(u => !u.paused && u.readyState >= 1 && isFinite(u.duration))"
            "(document.getElementById('unheard-player'))"
        )
        clip = page.evaluate(
            "(() => {const u = document.getElementById('unheard-player');"
            " return {duration: u.duration, at: u.currentTime, main_paused:"
            f" {player}.paused}};}})()"
        )
        browser.screenshot("session_page.png")
        errors = browser.console_errors
    assert errors == []
    assert duration == pytest.approx(_session_s(lines), abs=0.1)
    lo, hi = _turn3_bracket(lines)
    assert lo - 0.01 <= current <= hi + 0.01
    assert playhead == pytest.approx(100 * current / duration, abs=0.5)
    assert fig_head == pytest.approx(100 * fraction(current), abs=0.5)
    assert fig_seek == pytest.approx(5.0, abs=0.05)  # a pixel is ~0.02 s of this axis
    # The inspector lists turn 3's events, from its speech_started to its reply's done,
    # with audio payloads cut out (no long base64 run anywhere).
    assert inspector.startswith("Turn 3:")
    assert "input_audio_buffer.speech_started" in inspector and third in inspector
    assert re.search(r"[A-Za-z0-9+/]{200,}", inspector) is None
    # Turn 2's reply was cut after `heard` of its `generated` seconds: the struck-through
    # tail is the transcript's last part, about (1 - heard/generated) of it.
    assert struck == "line-through"
    assert transcript.endswith(unheard_text.strip()) and unheard_text.strip()
    assert len(unheard_text.strip()) <= len(transcript) * (1 - heard / generated) + 8
    # The unheard remainder: what was generated after the cut, played from its start.
    assert clip["duration"] == pytest.approx(generated - heard, abs=0.01)
    assert clip["at"] < clip["duration"] and clip["main_paused"]


SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"


def test_a_redacted_recording_gets_the_page_without_a_player_and_says_why():
    html = build([SAMPLES / "beta_barge_in.jsonl"], html=True).html()
    assert 'id="player"' not in html
    (note,) = re.findall(r"<p>No audio: ([^<]*)</p>", html)
    assert "redact" in note and "beta_barge_in.jsonl" in note


def test_a_g711_call_fits_stereo_8khz_in_the_page():
    # The sample's 4 turns are well under the ~18 minutes stereo 8 kHz fits in the budget.
    html = build([SAMPLES / "ga_twilio_g711.jsonl"], html=True).html()
    assert html.count('src="data:audio/wav;base64,') == 1
    assert "μ-law WAV 8000 Hz, stereo, user left / agent right" in html


def test_layout_keeps_stereo_while_it_fits_then_mixes_and_lowers_the_rate():
    # Budget 16,500,000 bytes of μ-law (one byte a sample a channel).
    assert choose_layout(600) == (2, 8000)  # 600 * 8000 * 2 = 9.6 MB
    assert choose_layout(1031) == (2, 8000)  # 16.496 MB
    assert choose_layout(1032) == (1, 8000)  # stereo 16.512 MB: over
    assert choose_layout(2400) == (1, 6000)  # 19.2 MB at 8 kHz mono; 14.4 MB at 6 kHz
    assert choose_layout(3600) == (1, 4500)  # 21.6 MB at 6 kHz; 16.2 MB at 4.5 kHz
    assert choose_layout(5 * 3600) == (1, 4000)  # nothing fits: the smallest
