"""Issue 13 ("numbers a user can trust"), items 1, 2, 4 and 5, pinned on simulator recordings.

Each expected value is worked out here from the recording's own lines (times, ids, VAD
positions, byte counts) with the arithmetic written beside it, never read back from rtlens.
Recordings: `typed_turn` (beta, whisper-1, a typed message between two spoken turns) is
recorded through the relay in front of the simulator by the fixture; `beta_barge_in` is the
bundled simulator sample in which every turn barges in or is cut.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

import orjson
import pytest
from builders import REPO, Session, b64, beta_session, ga_session

from rtlens.ingest import pricing
from rtlens.report.build import build

WHISPER_PER_MINUTE = 0.006  # rtlens/data/prices.json, "whisper-1"


def _events(path: Path) -> list[tuple[float, str, dict[str, Any]]]:
    """(ms since the first event, direction, event) for every event line."""
    out, first = [], None
    for line in path.read_bytes().splitlines():
        record = orjson.loads(line)
        if "event" not in record:
            continue
        first = record["ts"] if first is None else first
        out.append(((record["ts"] - first) * 1000, record["dir"], record["event"]))
    return out


def _first(events, start_ms: float, pred) -> tuple[float, dict[str, Any]]:
    return next((t, e) for t, d, e in events if t >= start_ms and pred(d, e))


def _spoken_v2v(events) -> list[float]:
    """Per committed VAD turn: speech_stopped received → first audio delta of the response
    created after its commit (by response id, so a cancelled reply's late deltas don't count)."""
    out = []
    for t_stop, _, e in events:
        if e.get("type") != "input_audio_buffer.speech_stopped":
            continue
        t_commit, _ = _first(
            events, t_stop, lambda d, e: e["type"] == "input_audio_buffer.committed"
        )
        t_created, created = _first(events, t_commit, lambda d, e: e["type"] == "response.created")
        rid = created["response"]["id"]
        t_audio, _ = _first(
            events,
            t_created,
            lambda d, e, rid=rid: e["type"] == "response.audio.delta" and e["response_id"] == rid,
        )
        out.append(t_audio - t_stop)
    return out


@pytest.fixture(scope="module")
def typed(tmp_path_factory) -> Path:
    from rtlens.simulator.samples import Sample, record_samples

    folder = tmp_path_factory.mktemp("typed")
    sample = Sample("typed_turn", "typed_turn", "beta", seed=3)
    (path,) = asyncio.run(asyncio.wait_for(record_samples(folder, (sample,), pace=0), 120))
    return path


def _rows(report, sql: str) -> list[dict[str, Any]]:
    cur = report.con.execute(sql)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# ---- 1. voice-to-voice is about voice ----------------------------------------------------


def test_a_typed_turn_has_its_own_latency_and_never_counts_as_voice_to_voice(typed):
    ev = _events(typed)
    t_item, _ = _first(
        ev,
        0,
        lambda d, e: (
            d == "client"
            and e["type"] == "conversation.item.create"
            and e["item"]["content"][0]["type"] == "input_text"
        ),
    )
    t_create, _ = _first(ev, t_item, lambda d, e: d == "client" and e["type"] == "response.create")
    t_created, created = _first(ev, t_create, lambda d, e: e["type"] == "response.created")
    rid = created["response"]["id"]
    t_reply, _ = _first(
        ev,
        t_created,
        lambda d, e: (
            e.get("response_id") == rid
            and e["type"] in ("response.audio.delta", "response.audio_transcript.delta")
        ),
    )
    # start: the later of the app's item create and its response.create (both sent by the
    # app); end: the reply's first audio or transcript delta
    text_latency = t_reply - max(t_item, t_create)
    spoken = _spoken_v2v(ev)
    assert len(spoken) == 2  # the script speaks twice
    spoken_p50 = (spoken[0] + spoken[1]) / 2  # quantile_cont 0.5 of two values: their mean

    report = build([typed])
    turns = _rows(report, "SELECT * FROM turns ORDER BY turn")
    assert [t["trigger"] for t in turns] == ["server_vad", "text", "server_vad"]
    assert turns[1]["v2v_ms"] is None and turns[1]["v2v_est_ms"] is None
    assert turns[1]["text_to_reply_ms"] == pytest.approx(text_latency, abs=0.01)
    assert turns[0]["text_to_reply_ms"] is None
    assert [turns[0]["v2v_ms"], turns[2]["v2v_ms"]] == pytest.approx(spoken, abs=0.01)

    lat = report.summary["latency"]
    assert lat["v2v_ms"]["n"] == 2 and lat["by_category"]["clean"]["n"] == 2
    assert lat["by_category"]["clean"]["p50"] == pytest.approx(spoken_p50, abs=0.01)
    assert lat["by_category"]["text"]["n"] == 1
    assert lat["by_category"]["text"]["p50"] == pytest.approx(text_latency, abs=0.01)
    assert lat["headline"]["p50"] == pytest.approx(spoken_p50, abs=0.01)
    (overview,) = _rows(report, "SELECT v2v_p50_ms FROM session_overview")
    assert overview["v2v_p50_ms"] == pytest.approx(spoken_p50, abs=0.01)
    (category,) = _rows(report, "SELECT category FROM turn_latency WHERE turn = 2")
    assert category["category"] == "text"

    text = report.text()
    clean_row = next(line for line in text.splitlines() if "voice-to-voice, clean" in line)
    assert clean_row.split()[3] == "2"  # n
    typed_row = next(line for line in text.splitlines() if "typed text → first reply" in line)
    assert typed_row.split()[5] == "1" and typed_row.split()[6] == f"{text_latency:,.0f}"


def test_a_fleet_counts_only_spoken_turns_as_voice_to_voice(typed):
    other = REPO / "sample_logs" / "beta_voice_conversation.jsonl"  # 3 spoken clean turns
    report = build([typed, other])
    (group,) = report.summary["fleet"]["by_model"]  # both gpt-4o-realtime-preview-2024-12-17
    assert group["turns"] == 2 + 3  # the typed turn is not a voice-to-voice turn
    spoken = _spoken_v2v(_events(typed)) + _spoken_v2v(_events(other))
    assert group["v2v_p50_ms"] == pytest.approx(statistics.median(spoken), abs=0.01)


# ---- 2. cost is known whenever the price is ------------------------------------------------


def test_beta_whisper_is_priced_from_the_vad_segment_it_transcribed(typed):
    ev = _events(typed)
    starts = {
        e["item_id"]: e["audio_start_ms"]
        for _, _, e in ev
        if e["type"] == "input_audio_buffer.speech_started"
    }
    ends = {
        e["item_id"]: e["audio_end_ms"]
        for _, _, e in ev
        if e["type"] == "input_audio_buffer.speech_stopped"
    }
    completed = [
        e for _, _, e in ev if e["type"] == "conversation.item.input_audio_transcription.completed"
    ]
    assert completed and all("usage" not in e for e in completed)  # beta: no usage (C1)
    # cost = (audio_end_ms - audio_start_ms) / 60,000 ms per minute x $0.006 per minute
    expected = {
        e["item_id"]: (ends[e["item_id"]] - starts[e["item_id"]]) / 60_000 * WHISPER_PER_MINUTE
        for e in completed
    }

    report = build([typed])
    rows = _rows(report, "SELECT item_id, audio_ms, cost_usd FROM transcriptions")
    assert {r["item_id"]: r["cost_usd"] for r in rows} == pytest.approx(expected, rel=1e-9)
    tk = report.summary["tokens"]
    (responses,) = _rows(report, "SELECT sum(cost_usd) AS usd FROM responses")
    assert tk["cost_usd"] == pytest.approx(responses["usd"] + sum(expected.values()), rel=1e-9)
    assert tk["cost_usd_known"] == pytest.approx(tk["cost_usd"], rel=1e-9)
    assert tk["cost_unknown"] == []
    (session,) = _rows(report, "SELECT cost_usd, cost_usd_known FROM sessions")
    assert session["cost_usd"] == pytest.approx(tk["cost_usd"], rel=1e-9)
    assert "price unknown" not in report.text()


def test_a_missing_price_names_the_part_and_keeps_the_known_total(typed, tmp_path, monkeypatch):
    prices = json.loads((REPO / "rtlens" / "data" / "prices.json").read_text())
    del prices["transcription"]["whisper-1"]
    custom = tmp_path / "prices.json"
    custom.write_text(json.dumps(prices))
    monkeypatch.setenv("RTLENS_PRICES", str(custom))
    pricing.price_table.cache_clear()
    try:
        report = build([typed])
    finally:
        monkeypatch.delenv("RTLENS_PRICES")
        pricing.price_table.cache_clear()
    tk = report.summary["tokens"]
    (responses,) = _rows(report, "SELECT sum(cost_usd) AS usd FROM responses")
    assert tk["cost_usd"] is None
    assert tk["cost_usd_known"] == pytest.approx(responses["usd"], rel=1e-9)  # the model part
    assert tk["cost_unknown"] == [
        {
            "part": "transcription",
            "model": "whisper-1",
            "count": 2,  # the two spoken turns
            "reason": "no price for model whisper-1",
        }
    ]
    text = report.text()
    assert f"(at least ${responses['usd']:,.4f} known)" in text
    assert "cost unknown for 2 transcription part(s): no price for model whisper-1" in text


def _manual_whisper(path: Path, fmt: str, appends: list[dict[str, Any]]) -> Path:
    """A beta push-to-talk turn transcribed by whisper-1 (no usage on `completed`)."""
    s = Session()
    s.server(0, "session.created", event_id="e0", session=beta_session(fmt=fmt))
    for i, fields in enumerate(appends):
        s.client(100 + 10 * i, "input_audio_buffer.append", **fields)
    s.client(500, "input_audio_buffer.commit", event_id="c1")
    s.server(520, "input_audio_buffer.committed", item_id="item_u1", previous_item_id=None)
    s.server(
        900,
        "conversation.item.input_audio_transcription.completed",
        item_id="item_u1",
        content_index=0,
        transcript="Hello there.",
    )
    return s.close(1000).write(path)


@pytest.mark.parametrize(
    ("fmt", "bytes_per_append"),
    [
        ("pcm16", 48_000),  # 24 kHz x 2 bytes: 48,000 bytes = 1,000 ms
        ("g711_ulaw", 8_000),  # 8 kHz x 1 byte: 8,000 bytes = 1,000 ms
    ],
)
def test_a_manual_commit_is_priced_from_the_bytes_it_committed(tmp_path, fmt, bytes_per_append):
    appends = [{"audio": b64(bytes_per_append)}, {"audio": b64(bytes_per_append)}]
    report = build([_manual_whisper(tmp_path / "m.jsonl", fmt, appends)])
    (row,) = _rows(report, "SELECT audio_ms, cost_usd FROM transcriptions")
    assert row["audio_ms"] == pytest.approx(2000.0)  # two appends of 1,000 ms
    assert row["cost_usd"] == pytest.approx(2.0 / 60 * WHISPER_PER_MINUTE)  # $0.0002


def test_audio_redacted_without_byte_counts_leaves_that_part_unknown(tmp_path):
    report = build([_manual_whisper(tmp_path / "r.jsonl", "pcm16", [{"audio": ""}] * 2)])
    (row,) = _rows(report, "SELECT audio_ms, cost_usd FROM transcriptions")
    assert row["audio_ms"] is None and row["cost_usd"] is None
    tk = report.summary["tokens"]
    assert tk["cost_usd"] is None and tk["cost_usd_known"] == 0
    (unknown,) = tk["cost_unknown"]
    assert unknown["reason"] == "no usage, and the duration of its audio is not in the recording"
    assert "price unknown" not in report.text()  # the price is known; the audio is not


# ---- 4. labels say what the wire shows --------------------------------------------------

BARGE_IN = REPO / "sample_logs" / "beta_barge_in.jsonl"


def _speech_before(events, t: float) -> float:
    return max(
        te for te, _, e in events if e["type"] == "input_audio_buffer.speech_started" and te <= t
    )


def test_cancel_and_audio_stop_are_separate_figures_from_their_own_events():
    ev = _events(BARGE_IN)
    cancels = [
        t - _speech_before(ev, t)  # speech_started → response.done (cancelled) received
        for t, _, e in ev
        if e["type"] == "response.done" and e["response"]["status"] == "cancelled"
    ]
    stops = [
        t - _speech_before(ev, t)  # speech_started → the app's truncate sent
        for t, d, e in ev
        if d == "client" and e["type"] == "conversation.item.truncate"
    ]
    assert len(cancels) == 1 and len(stops) == 2
    report = build([BARGE_IN])
    rows = _rows(report, "SELECT cancel_after_ms, audio_stop_after_ms FROM interruptions")
    got_cancels = [r["cancel_after_ms"] for r in rows if r["cancel_after_ms"] is not None]
    got_stops = sorted(
        r["audio_stop_after_ms"] for r in rows if r["audio_stop_after_ms"] is not None
    )
    assert got_cancels == pytest.approx(cancels, abs=0.01)
    assert got_stops == pytest.approx(sorted(stops), abs=0.01)
    text = report.text()
    assert f"response cancelled {cancels[0]:.0f} ms after speech started (p50 of 1)" in text
    assert (
        f"audio stopped {statistics.median(stops):.0f} ms after speech started (p50 of 2)" in text
    )
    assert "agent stopped talking" not in text
    assert "agent stopped" not in report.html()


def test_a_cancel_without_a_truncate_leaves_heard_audio_unknown_in_the_whole_line(tmp_path):
    s = Session()
    s.server(0, "session.created", event_id="e0", session=ga_session())
    s.client(50, "input_audio_buffer.append", audio=b64(96_000))
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u1")
    s.server(900, "input_audio_buffer.speech_stopped", audio_end_ms=800, item_id="item_u1")
    s.server(910, "input_audio_buffer.committed", item_id="item_u1", previous_item_id=None)
    s.server(1000, "response.created", response={"id": "resp_1", "conversation_id": "conv_1"})
    s.server(
        1050,
        "response.output_item.added",
        response_id="resp_1",
        output_index=0,
        item={"id": "item_a1", "type": "message", "role": "assistant", "content": []},
    )
    # 48,000 bytes of pcm16 = 1,000 ms generated; nobody says how much of it was played
    s.server(
        1100,
        "response.output_audio.delta",
        response_id="resp_1",
        item_id="item_a1",
        delta=b64(48_000),
    )
    s.server(1400, "input_audio_buffer.speech_started", audio_start_ms=1300, item_id="item_u2")
    s.server(
        1420,
        "response.done",
        response={
            "id": "resp_1",
            "conversation_id": "conv_1",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "output": [],
            "usage": None,
        },
    )
    report = build([s.close(2000).write(tmp_path / "c.jsonl")])
    it = report.summary["interruptions"]
    assert it["count"] == 1 and it["audio_known"] == 0
    assert it["audio_generated_ms"] is None and it["audio_unheard_ms"] is None
    assert it["cancel_after_ms_p50"] == pytest.approx(1420 - 1400)  # = 20 ms
    assert it["audio_stop_after_ms_p50"] is None  # no truncate, no WebRTC buffer cleared
    section = report.text().split("Barge-ins")[1].split("Errors")[0]
    assert "audio heard unknown" in section
    assert "never heard" not in section and "0.0 s" not in section
    assert "response cancelled 20 ms after speech started (p50 of 1)" in section
    assert "audio stopped" not in section


# ---- 5. barge-in-heavy calls still get a headline ----------------------------------------


def test_when_every_turn_is_a_barge_in_the_headline_says_so_with_a_number():
    v2v = sorted(_spoken_v2v(_events(BARGE_IN)))
    assert len(v2v) == 4
    p50 = (v2v[1] + v2v[2]) / 2  # quantile_cont 0.5 of four values: mean of the middle two
    p95 = v2v[2] + 0.85 * (v2v[3] - v2v[2])  # position 0.95 x 3 = 2.85
    report = build([BARGE_IN])
    head = report.summary["latency"]["headline"]
    assert head["category"] == "interrupted" and head["n"] == head["of"] == 4
    assert head["p50"] == pytest.approx(p50, abs=0.01)
    assert head["p95"] == pytest.approx(p95, abs=0.01)
    assert report.summary["latency"]["by_category"]["clean"]["n"] == 0
    text = report.text()
    assert (
        f"all 4 turns interrupted; p50 over interrupted turns: {p50:,.0f} ms, p95 {p95:,.0f} ms"
        in text
    )
    html = report.html()
    assert "<b>- ms</b>" not in html
    assert (
        f"<b>{p50:,.0f} ms</b><span>voice-to-voice p50 over interrupted turns; all 4 turns "
        "interrupted</span>" in html
    )


def test_on_webrtc_audio_stops_where_the_server_cleared_its_output_buffer(tmp_path):
    s = Session()
    s.server(0, "session.created", event_id="e0", session=ga_session())
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u1")
    s.server(900, "input_audio_buffer.speech_stopped", audio_end_ms=800, item_id="item_u1")
    s.server(910, "input_audio_buffer.committed", item_id="item_u1", previous_item_id=None)
    s.server(1000, "response.created", response={"id": "resp_1", "conversation_id": "conv_1"})
    s.server(
        1050,
        "response.output_item.added",
        response_id="resp_1",
        output_index=0,
        item={"id": "item_a1", "type": "message", "role": "assistant", "content": []},
    )
    s.server(1100, "output_audio_buffer.started", response_id="resp_1")  # no audio deltas
    s.server(1400, "input_audio_buffer.speech_started", audio_start_ms=1300, item_id="item_u2")
    s.server(1430, "output_audio_buffer.cleared", response_id="resp_1")
    s.server(
        1450,
        "response.done",
        response={
            "id": "resp_1",
            "conversation_id": "conv_1",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "output": [],
            "usage": None,
        },
    )
    s.server(
        1460, "conversation.item.truncated", item_id="item_a1", content_index=0, audio_end_ms=300
    )
    report = build([s.close(2000).write(tmp_path / "w.jsonl")])
    (row,) = _rows(report, "SELECT * FROM interruptions")
    assert row["cancel_after_ms"] == pytest.approx(1450 - 1400)  # response.done (cancelled)
    assert row["audio_stop_after_ms"] == pytest.approx(1430 - 1400)  # output buffer cleared
    assert row["stop_ms"] == pytest.approx(1450 - 1400)  # first of cancel 1450, truncate 1460
    it = report.summary["interruptions"]
    assert it["audio_known"] == 0 and it["audio_played_only_ms"] == pytest.approx(300)
    section = report.text().split("Barge-ins")[1].split("Errors")[0]
    assert "heard 0.3 s before the cuts (generated audio is not visible on WebRTC)" in section
    assert "never heard" not in section
    assert "response cancelled 50 ms after speech started (p50 of 1)" in section
    assert "audio stopped 30 ms after speech started (p50 of 1)" in section
