"""Hand-checked values: small sessions built line by line, expected numbers worked out by hand.

Each expected value is derived in a comment from the timestamps and byte counts above it,
so a reader can check the arithmetic without running anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import Session, b64, beta_session, ga_session, usage

from rtlens.ingest.normalize import normalize_file
from rtlens.schema import TABLES


def table(result, name: str) -> list[dict]:
    cols = TABLES[name].column_names
    return [dict(zip(cols, row, strict=True)) for row in result.rows[name]]


def one(result, name: str, **match) -> dict:
    rows = [r for r in table(result, name) if all(r[k] == v for k, v in match.items())]
    assert len(rows) == 1, f"{name} rows matching {match}: {rows}"
    return rows[0]


@pytest.fixture
def ga_voice(tmp_path: Path):
    return normalize_file(write_ga_voice(tmp_path / "ga_voice.jsonl"))


def write_ga_voice(path: Path) -> Path:
    """Three turns: an ordinary one, one cut by a barge-in, one that calls a tool."""
    s = Session()
    s.server(0, "session.created", event_id="e0", session=ga_session(transcription=True))
    for i in range(3):  # 3 x 48,000 bytes of pcm16 24 kHz = 3,000 ms of user audio
        s.client(100 + 1000 * i, "input_audio_buffer.append", audio=b64(48_000))
    # turn 1
    s.server(1000, "input_audio_buffer.speech_started", audio_start_ms=700, item_id="item_u1")
    s.server(2000, "input_audio_buffer.speech_stopped", audio_end_ms=1800, item_id="item_u1")
    s.server(2050, "input_audio_buffer.committed", item_id="item_u1", previous_item_id=None)
    s.server(
        2060,
        "conversation.item.added",
        item={
            "id": "item_u1",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        },
    )
    s.server(
        2200,
        "response.created",
        response={
            "id": "resp_1",
            "status": "in_progress",
            "conversation_id": "conv_1",
            "usage": None,
        },
    )
    s.server(
        2210,
        "rate_limits.updated",
        rate_limits=[{"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5}],
    )
    s.server(
        2300,
        "response.output_item.added",
        response_id="resp_1",
        output_index=0,
        item={"id": "item_a1", "type": "message", "role": "assistant", "content": []},
    )
    s.server(
        2500,
        "response.output_audio_transcript.delta",
        response_id="resp_1",
        item_id="item_a1",
        delta="Hello",
    )
    s.server(
        2600,
        "response.output_audio.delta",
        response_id="resp_1",
        item_id="item_a1",
        delta=b64(24_000),
    )
    s.server(
        2700,
        "response.output_audio.delta",
        response_id="resp_1",
        item_id="item_a1",
        delta=b64(24_000),
    )
    s.server(
        2800,
        "conversation.item.input_audio_transcription.completed",
        item_id="item_u1",
        content_index=0,
        transcript="Hi there",
        usage={
            "type": "tokens",
            "input_tokens": 20,
            "output_tokens": 5,
            "total_tokens": 25,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 20},
        },
    )
    s.server(
        3000,
        "response.output_audio_transcript.done",
        response_id="resp_1",
        item_id="item_a1",
        transcript="Hello there!",
    )
    s.server(
        3100,
        "response.done",
        response={
            "id": "resp_1",
            "status": "completed",
            "status_details": None,
            "conversation_id": "conv_1",
            "output": [],
            "usage": usage(100, 50, 10, 25, cached_text=64),
        },
    )
    # turn 2, whose reply is cut by turn 3's speech
    s.server(4000, "input_audio_buffer.speech_started", audio_start_ms=3700, item_id="item_u2")
    s.server(5000, "input_audio_buffer.speech_stopped", audio_end_ms=4800, item_id="item_u2")
    s.server(5050, "input_audio_buffer.committed", item_id="item_u2", previous_item_id="item_a1")
    s.server(
        5200,
        "response.created",
        response={"id": "resp_2", "status": "in_progress", "conversation_id": "conv_1"},
    )
    s.server(
        5300,
        "response.output_item.added",
        response_id="resp_2",
        output_index=0,
        item={"id": "item_a2", "type": "message", "role": "assistant"},
    )
    s.server(
        5500,
        "response.output_audio.delta",
        response_id="resp_2",
        item_id="item_a2",
        delta=b64(48_000),
    )
    s.server(
        5600,
        "response.output_audio.delta",
        response_id="resp_2",
        item_id="item_a2",
        delta=b64(48_000),
    )
    # turn 3 barges in
    s.server(6000, "input_audio_buffer.speech_started", audio_start_ms=5600, item_id="item_u3")
    s.server(
        6100,
        "response.done",
        response={
            "id": "resp_2",
            "status": "cancelled",
            "conversation_id": "conv_1",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "usage": usage(200, 80, 5, 40),
        },
    )
    s.client(
        6150,
        "conversation.item.truncate",
        event_id="evt_t1",
        item_id="item_a2",
        content_index=0,
        audio_end_ms=500,
    )
    s.server(
        6200, "conversation.item.truncated", item_id="item_a2", content_index=0, audio_end_ms=500
    )
    s.server(6800, "input_audio_buffer.speech_stopped", audio_end_ms=6400, item_id="item_u3")
    s.server(6850, "input_audio_buffer.committed", item_id="item_u3", previous_item_id="item_a2")
    s.server(6900, "response.created", response={"id": "resp_3", "conversation_id": "conv_1"})
    s.server(
        7000,
        "response.output_item.added",
        response_id="resp_3",
        output_index=0,
        item={
            "id": "item_f1",
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "",
        },
    )
    s.server(
        7100,
        "response.function_call_arguments.delta",
        response_id="resp_3",
        item_id="item_f1",
        call_id="call_1",
        delta='{"city":',
    )
    s.server(
        7300,
        "response.function_call_arguments.done",
        response_id="resp_3",
        item_id="item_f1",
        call_id="call_1",
        name="get_weather",
        arguments='{"city":"Oslo"}',
    )
    s.server(
        7350,
        "response.done",
        response={
            "id": "resp_3",
            "status": "completed",
            "conversation_id": "conv_1",
            "output": [
                {
                    "id": "item_f1",
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "get_weather",
                    "arguments": '{"city":"Oslo"}',
                }
            ],
            "usage": usage(300, 120, 12, 0, cached_text=256, cached_audio=64),
        },
    )
    s.server(
        7400,
        "rate_limits.updated",
        rate_limits=[
            {"name": "requests", "limit": 1000, "remaining": 990, "reset_seconds": 0.06},
            {"name": "tokens", "limit": 40000, "remaining": 38000, "reset_seconds": 3.0},
        ],
    )
    s.client(
        7900,
        "conversation.item.create",
        event_id="evt_out",
        item={"type": "function_call_output", "call_id": "call_1", "output": '{"temp_c": 4}'},
    )
    s.client(7910, "response.create", event_id="evt_rc1")
    s.server(8000, "response.created", response={"id": "resp_4", "conversation_id": "conv_1"})
    s.server(
        8050,
        "response.output_item.added",
        response_id="resp_4",
        output_index=0,
        item={"id": "item_a4", "type": "message", "role": "assistant"},
    )
    s.server(
        8400,
        "response.output_audio.delta",
        response_id="resp_4",
        item_id="item_a4",
        delta=b64(24_000),
    )
    s.server(
        8600,
        "response.done",
        response={
            "id": "resp_4",
            "status": "completed",
            "conversation_id": "conv_1",
            "usage": usage(350, 120, 8, 20),
        },
    )
    # an out-of-band response, a speech that never becomes a turn, a bad cancel
    s.client(
        9000,
        "response.create",
        event_id="evt_oob",
        response={"conversation": "none", "output_modalities": ["text"]},
    )
    s.server(9100, "response.created", response={"id": "resp_oob", "conversation_id": None})
    s.server(
        9200,
        "response.output_text.delta",
        response_id="resp_oob",
        item_id="item_o",
        delta="summary",
    )
    s.server(
        9300,
        "response.done",
        response={
            "id": "resp_oob",
            "status": "completed",
            "conversation_id": None,
            "usage": usage(400, 0, 3, 0),
        },
    )
    s.server(10000, "input_audio_buffer.speech_started", audio_start_ms=9000, item_id="item_x")
    s.client(10400, "input_audio_buffer.clear", event_id="evt_clear")
    s.server(10450, "input_audio_buffer.cleared")
    s.client(11000, "response.cancel", event_id="evt_cancel_1")
    s.server(
        11010,
        "error",
        error={
            "type": "invalid_request_error",
            "code": "response_cancel_not_active",
            "message": "Cancellation failed: no active response found",
            "param": None,
            "event_id": "evt_cancel_1",
        },
    )
    s.close(12000, by="client", code=1000)
    return s.write(path)


def test_turn_latency_is_measured_from_speech_stopped_to_first_audio(ga_voice):
    t1 = one(ga_voice, "turns", turn=1)
    assert t1["speech_stopped_ms"] == 2000
    assert t1["first_audio_ms"] == 2600
    assert t1["v2v_ms"] == 600  # 2600 - 2000
    assert t1["v2v_est_ms"] == 1100  # + the 500 ms silence window
    assert t1["turn_gap_ms"] == 200  # response.created 2200 - speech_stopped 2000
    assert t1["ttfa_ms"] == 400  # first audio 2600 - response.created 2200
    assert t1["trigger"] == "server_vad"
    assert (t1["audio_start_ms"], t1["audio_end_ms"]) == (700, 1800)
    assert not t1["interrupted"] and not t1["reply_interrupted"] and not t1["has_tool_call"]


def test_response_timing_audio_and_text(ga_voice):
    r1 = one(ga_voice, "responses", response_id="resp_1")
    assert r1["ttfa_ms"] == 400
    assert r1["duration_ms"] == 900  # done 3100 - created 2200
    assert r1["audio_ms"] == 1000  # 48,000 bytes / 48 bytes per ms
    assert r1["first_text_ms"] == 2500
    assert r1["text"] == "Hello there!"
    assert r1["turn"] == 1 and r1["trigger"] == "turn" and r1["status"] == "completed"


def test_tokens_and_cost_treat_cached_as_a_subset_of_input(ga_voice):
    r1 = one(ga_voice, "responses", response_id="resp_1")
    assert (r1["input_tokens"], r1["output_tokens"], r1["total_tokens"]) == (150, 35, 185)
    assert (r1["cached_tokens"], r1["cached_text_tokens"], r1["cached_audio_tokens"]) == (64, 64, 0)
    # gpt-realtime per 1M: text 4 / cached 0.4 / out 16; audio 32 / out 64
    # (100-64)*4 + 64*0.4 + 50*32 + 10*16 + 25*64 = 144 + 25.6 + 1600 + 160 + 1600 = 3529.6
    assert r1["cost_usd"] == pytest.approx(3529.6e-6)
    r3 = one(ga_voice, "responses", response_id="resp_3")
    # (300-256)*4 + 256*0.4 + (120-64)*32 + 64*0.4 + 12*16 = 176+102.4+1792+25.6+192 = 2288
    assert r3["cost_usd"] == pytest.approx(2288e-6)


def test_barge_in_becomes_one_interruption_row_with_unheard_audio(ga_voice):
    rows = table(ga_voice, "interruptions")
    assert len(rows) == 1
    row = rows[0]
    assert row["response_id"] == "resp_2" and row["item_id"] == "item_a2"
    assert row["reason"] == "turn_detected"
    assert row["turn"] == 3
    assert row["speech_started_ms"] == 6000
    assert row["cancel_ms"] == 6100
    assert row["truncate_ms"] == 6150 and row["truncated_by"] == "client"
    assert row["stop_ms"] == 100  # first of cancel/truncate 6100 - speech 6000
    assert row["audio_generated_ms"] == 2000  # 96,000 bytes / 48
    assert row["audio_played_ms"] == 500
    assert row["audio_unheard_ms"] == 1500
    assert one(ga_voice, "turns", turn=3)["interrupted"] is True
    t2 = one(ga_voice, "turns", turn=2)
    assert t2["reply_interrupted"] is True and t2["interrupted"] is False
    assert t2["v2v_ms"] == 500  # first audio 5500 - speech_stopped 5000
    r2 = one(ga_voice, "responses", response_id="resp_2")
    assert (r2["status"], r2["status_reason"]) == ("cancelled", "turn_detected")


def test_tool_turn_waits_for_the_follow_up_audio(ga_voice):
    t3 = one(ga_voice, "turns", turn=3)
    assert t3["response_id"] == "resp_3"
    assert t3["first_audio_response_id"] == "resp_4"
    assert t3["v2v_ms"] == 1600  # follow-up first audio 8400 - speech_stopped 6800
    assert t3["has_tool_call"] is True and t3["n_responses"] == 2
    call = one(ga_voice, "function_calls", call_id="call_1")
    assert call["name"] == "get_weather" and call["arguments"] == '{"city":"Oslo"}'
    assert call["arguments_done_ms"] == 7300 and call["output_ms"] == 7900
    assert call["tool_ms"] == 600
    assert call["followup_response_id"] == "resp_4"
    assert call["tool_to_audio_ms"] == 500  # 8400 - 7900
    assert call["turn"] == 3 and call["output"] == '{"temp_c": 4}'
    r4 = one(ga_voice, "responses", response_id="resp_4")
    assert r4["trigger"] == "function_call_output" and r4["turn"] == 3


def test_out_of_band_response_belongs_to_no_turn(ga_voice):
    oob = one(ga_voice, "responses", response_id="resp_oob")
    assert oob["out_of_band"] is True and oob["turn"] is None
    assert oob["trigger"] == "response.create"
    assert oob["audio_ms"] == 0 and oob["first_audio_ms"] is None and oob["text"] == "summary"


def test_rate_limits_before_and_after_response_done(ga_voice):
    rows = table(ga_voice, "rate_limits")
    assert [(r["t_ms"], r["name"], r["remaining"]) for r in rows] == [
        (2210, "tokens", 39000),
        (7400, "requests", 990),
        (7400, "tokens", 38000),
    ]
    assert rows[0]["response_id"] == "resp_1" and rows[0]["turn"] == 1
    assert rows[2]["response_id"] == "resp_3" and rows[2]["remaining_pct"] == 95.0
    assert rows[2]["reset_seconds"] == 3.0


def test_transcription_that_lands_after_the_reply(ga_voice):
    tr = one(ga_voice, "transcriptions", item_id="item_u1")
    assert tr["status"] == "completed" and tr["transcript"] == "Hi there"
    assert tr["latency_ms"] == 750  # 2800 - committed 2050
    assert tr["after_reply"] is True  # first audio was at 2600
    assert tr["cost_usd"] == pytest.approx(170e-6)  # 20 audio x $6 + 5 out x $10 per 1M
    t1 = one(ga_voice, "turns", turn=1)
    assert t1["transcript"] == "Hi there" and t1["transcript_after_reply"] is True


def test_errors_name_the_client_event_they_answer(ga_voice):
    err = one(ga_voice, "errors", code="response_cancel_not_active")
    assert err["client_event_id"] == "evt_cancel_1"
    assert err["client_event_type"] == "response.cancel"
    assert err["t_ms"] == 11010 and err["source"] == "error_event"


def test_session_row(ga_voice):
    s = table(ga_voice, "sessions")[0]
    assert s["session_id"] == "test-session" and s["source"] == "relay"
    assert s["dialect"] == "ga" and s["transport"] == "websocket"
    assert s["model"] == "gpt-realtime" and s["voice"] == "marin"
    assert s["turn_detection"] == "server_vad" and s["silence_duration_ms"] == 500
    assert s["input_audio_format"] == "pcm16" and s["transcription_model"] == "gpt-4o-transcribe"
    assert (s["n_turns"], s["n_responses"], s["n_interruptions"], s["n_errors"]) == (3, 5, 1, 1)
    assert s["input_audio_ms"] == 3000
    assert s["output_audio_ms"] == 1000 + 2000 + 500
    assert s["duration_ms"] == 12000  # first event at 0, close line at 12000
    assert (s["close_by"], s["close_code"]) == ("client", 1000)
    assert s["n_events"] == len(ga_voice.rows["events"])


def test_speech_that_is_cleared_never_becomes_a_turn(ga_voice):
    assert [t["item_id"] for t in table(ga_voice, "turns")] == ["item_u1", "item_u2", "item_u3"]


def test_manual_turn_counts_from_the_later_of_commit_and_response_create(tmp_path):
    s = Session()
    session = ga_session()
    session["audio"]["input"]["turn_detection"] = None
    s.server(0, "session.created", session=session)
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))
    s.client(1000, "input_audio_buffer.commit", event_id="c1")
    s.server(1050, "input_audio_buffer.committed", item_id="item_m1")
    s.client(1100, "response.create", event_id="r1")
    s.server(1200, "response.created", response={"id": "resp_m1"})
    s.server(1500, "response.output_audio.delta", response_id="resp_m1", delta=b64(4800))
    s.server(1600, "response.done", response={"id": "resp_m1", "status": "completed"})
    result = normalize_file(s.write(tmp_path / "manual.jsonl"))
    turn = one(result, "turns", turn=1)
    assert turn["trigger"] == "manual" and turn["speech_stopped_ms"] is None
    assert turn["v2v_ms"] == 400  # first audio 1500 - response.create sent 1100
    assert turn["turn_gap_ms"] == 100
    assert table(result, "sessions")[0]["turn_detection"] == "none"
    assert one(result, "responses", response_id="resp_m1")["trigger"] == "response.create"


def test_text_turn_and_a_session_that_ends_mid_response(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.client(
        500,
        "conversation.item.create",
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    )
    s.server(
        520,
        "conversation.item.added",
        item={
            "id": "item_t1",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        },
    )
    s.client(600, "response.create")
    s.server(700, "response.created", response={"id": "resp_t1"})
    s.server(900, "response.output_audio.delta", response_id="resp_t1", delta=b64(9600))
    result = normalize_file(s.write(tmp_path / "cut.jsonl"))  # no response.done, no close
    turn = one(result, "turns", turn=1)
    assert turn["trigger"] == "text" and turn["item_id"] == "item_t1"
    # a typed turn has no voice-to-voice; its own latency has the same start and end
    assert turn["v2v_ms"] is None
    assert turn["text_to_reply_ms"] == 300  # first audio 900 - response.create 600
    resp = one(result, "responses", response_id="resp_t1")
    assert resp["status"] == "in_progress" and resp["done_ms"] is None
    assert resp["audio_ms"] == 200 and resp["duration_ms"] is None
    session = table(result, "sessions")[0]
    assert session["close_by"] is None and session["duration_ms"] == 900


def test_cancel_before_any_audio_and_truncate_of_an_unseen_item(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1")
    s.server(900, "input_audio_buffer.speech_stopped", audio_end_ms=800, item_id="u1")
    s.server(950, "input_audio_buffer.committed", item_id="u1")
    s.server(1000, "response.created", response={"id": "resp_a"})
    s.server(1100, "input_audio_buffer.speech_started", audio_start_ms=1000, item_id="u2")
    s.server(
        1150,
        "response.done",
        response={
            "id": "resp_a",
            "status": "cancelled",
            "output": [],
            "usage": usage(0, 0, 0, 0),
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
        },
    )
    s.client(
        1200,
        "conversation.item.truncate",
        item_id="item_from_before",
        content_index=0,
        audio_end_ms=1234,
    )
    result = normalize_file(s.write(tmp_path / "cancel.jsonl"))
    before_audio = one(result, "interruptions", response_id="resp_a")
    assert before_audio["reason"] == "turn_detected"
    assert before_audio["audio_generated_ms"] == 0
    assert before_audio["audio_played_ms"] == 0 and before_audio["audio_unheard_ms"] == 0
    assert before_audio["cancel_ms"] == 1150 and before_audio["stop_ms"] == 50
    unseen = one(result, "interruptions", item_id="item_from_before")
    assert unseen["response_id"] is None and unseen["audio_generated_ms"] is None
    assert unseen["audio_played_ms"] == 1234 and unseen["audio_unheard_ms"] is None
    assert unseen["reason"] == "truncated" and unseen["truncated_by"] == "client"
    resp = one(result, "responses", response_id="resp_a")
    assert resp["cost_usd"] == 0 and resp["total_tokens"] == 0


def test_webrtc_capture_first_audio_is_the_output_buffer_and_the_server_truncates(tmp_path):
    s = Session()
    s.server(0, "session.created", session=beta_session())
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=50, item_id="u1")
    s.server(800, "input_audio_buffer.speech_stopped", audio_end_ms=750, item_id="u1")
    s.server(820, "input_audio_buffer.committed", item_id="u1")
    s.server(900, "response.created", response={"id": "resp_w", "conversation_id": "conv"})
    s.server(910, "rate_limits.updated", rate_limits=[])
    s.server(
        950,
        "response.output_item.added",
        response_id="resp_w",
        item={"id": "item_w", "type": "message", "role": "assistant"},
    )
    s.server(1300, "output_audio_buffer.started", response_id="resp_w")
    s.server(2000, "input_audio_buffer.speech_started", audio_start_ms=1900, item_id="u2")
    s.server(2010, "output_audio_buffer.cleared", response_id="resp_w")
    s.server(
        2020,
        "response.done",
        response={
            "id": "resp_w",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
        },
    )
    s.server(
        2030, "conversation.item.truncated", item_id="item_w", content_index=0, audio_end_ms=680
    )
    result = normalize_file(s.write(tmp_path / "webrtc.jsonl"))
    session = table(result, "sessions")[0]
    assert session["transport"] == "webrtc" and session["dialect"] == "beta"
    assert one(result, "turns", turn=1)["v2v_ms"] == 500  # buffer started 1300 - stopped 800
    row = one(result, "interruptions", response_id="resp_w")
    assert row["truncated_by"] == "server" and row["truncate_ms"] == 2030
    assert row["audio_played_ms"] == 680
    assert row["audio_generated_ms"] is None  # no audio bytes cross the data channel
    assert one(result, "responses", response_id="resp_w")["audio_ms"] is None
    assert table(result, "rate_limits") == []  # an empty rate_limits list (Azure) adds no rows


def test_a_file_without_timestamps_keeps_order_but_no_times(tmp_path):
    s = Session(header=False)
    s.server(None, "session.created", session=beta_session())
    s.server(None, "input_audio_buffer.speech_started", audio_start_ms=10, item_id="u1")
    s.server(None, "input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="u1")
    s.server(None, "input_audio_buffer.committed", item_id="u1")
    s.server(None, "response.created", response={"id": "r"})
    s.server(None, "response.audio.delta", response_id="r", item_id="i", delta=b64(4800))
    s.server(None, "response.done", response={"id": "r", "status": "completed"})
    result = normalize_file(s.write(tmp_path / "bare.jsonl"))
    events = table(result, "events")
    assert [e["seq"] for e in events] == list(range(7))
    assert all(e["ts"] is None and e["t_ms"] is None for e in events)
    assert events[5]["canonical_type"] == "response.output_audio.delta"
    assert events[5]["audio_bytes"] == 4800 and '"delta":""' in events[5]["raw"]
    turn = one(result, "turns", turn=1)
    assert turn["v2v_ms"] is None and turn["response_id"] == "r"
    session = table(result, "sessions")[0]
    assert session["session_id"].startswith("file-") and session["source"] == "unknown"
    assert session["started_ts"] is None and session["dialect"] == "beta"
    assert one(result, "responses", response_id="r")["audio_ms"] == 100


def test_g711_durations_use_8_bytes_per_ms(tmp_path):
    s = Session()
    s.server(0, "session.created", session=beta_session(fmt="g711_ulaw"))
    s.client(10, "input_audio_buffer.append", audio=b64(160))  # one 20 ms Twilio frame
    s.server(20, "response.created", response={"id": "r"})
    s.server(30, "response.audio.delta", response_id="r", delta=b64(8000))
    result = normalize_file(s.write(tmp_path / "g711.jsonl"))
    assert one(result, "responses", response_id="r")["audio_ms"] == 1000
    session = table(result, "sessions")[0]
    assert session["input_audio_ms"] == 20 and session["input_audio_format"] == "g711_ulaw"


def test_unknown_model_has_no_cost_and_unknown_events_are_kept(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session(model="my-azure-deployment"))
    s.server(10, "response.created", response={"id": "r"})
    s.server(20, "response.brand_new_event", response_id="r", detail=1)
    s.server(
        30,
        "response.done",
        response={"id": "r", "status": "completed", "usage": usage(10, 0, 5, 0)},
    )
    result = normalize_file(s.write(tmp_path / "azure.jsonl"))
    assert one(result, "responses", response_id="r")["cost_usd"] is None
    assert table(result, "sessions")[0]["cost_usd"] is None
    unknown = [e for e in table(result, "events") if not e["known"]]
    assert [(e["type"], e["canonical_type"], e["response_id"]) for e in unknown] == [
        ("response.brand_new_event", None, "r")
    ]


def test_failed_response_is_an_error_row(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.server(10, "response.created", response={"id": "r"})
    s.server(
        20,
        "response.done",
        response={
            "id": "r",
            "status": "failed",
            "status_details": {
                "type": "failed",
                "error": {
                    "type": "tokens",
                    "code": "rate_limit_exceeded",
                    "message": "Rate limit reached",
                },
            },
        },
    )
    result = normalize_file(s.write(tmp_path / "failed.jsonl"))
    err = one(result, "errors", source="response_failed")
    assert (err["code"], err["type"], err["response_id"]) == ("rate_limit_exceeded", "tokens", "r")
    assert one(result, "responses", response_id="r")["status_reason"] == "rate_limit_exceeded"


# ---- the app's response.create, matched to the response that answers it --------------------


def manual_ga_session() -> dict:
    session = ga_session()
    session["audio"]["input"]["turn_detection"] = None
    return session


def test_manual_turn_v2v_starts_at_a_create_sent_before_the_commit_was_acknowledged(tmp_path):
    s = Session()
    s.server(0, "session.created", session=manual_ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))
    s.client(3000, "input_audio_buffer.commit", event_id="c1")
    s.client(3100, "response.create", event_id="r1")  # sent before the server's `committed`
    s.server(3150, "input_audio_buffer.committed", item_id="item_m1")
    s.server(3300, "response.created", response={"id": "resp_m1", "conversation_id": "conv"})
    s.server(3700, "response.output_audio.delta", response_id="resp_m1", delta=b64(4800))
    s.server(3800, "response.done", response={"id": "resp_m1", "status": "completed"})
    turn = one(normalize_file(s.write(tmp_path / "m.jsonl")), "turns", turn=1)
    # start = later of commit (3000) and create (3100) = 3100
    assert turn["trigger"] == "manual"
    assert turn["v2v_ms"] == 3700 - 3100
    assert turn["turn_gap_ms"] == 3300 - 3100


def test_text_turn_latency_starts_at_the_create_sent_before_the_item_was_acknowledged(tmp_path):
    s = Session()
    s.server(0, "session.created", session=beta_session())
    user_item = {"type": "message", "role": "user", "content": [{"type": "input_text"}]}
    s.client(500, "conversation.item.create", event_id="ic1", item=user_item)
    s.client(600, "response.create", event_id="rc1")
    s.server(620, "conversation.item.created", item={"id": "item_t1", **user_item})
    s.server(700, "response.created", response={"id": "resp_t1", "conversation_id": "conv"})
    s.server(900, "response.audio.delta", response_id="resp_t1", item_id="a1", delta=b64(9600))
    turn = one(normalize_file(s.write(tmp_path / "t.jsonl")), "turns", turn=1)
    assert turn["trigger"] == "text"
    assert turn["v2v_ms"] is None  # typed, not spoken
    assert turn["text_to_reply_ms"] == 900 - 600  # later of item create (500) and create (600)


def test_an_out_of_band_create_neither_starts_a_turn_nor_takes_its_trigger(tmp_path):
    s = Session()
    s.server(0, "session.created", session=manual_ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))
    s.client(1000, "input_audio_buffer.commit", event_id="c1")
    s.server(1050, "input_audio_buffer.committed", item_id="item_m1")
    oob = {"conversation": "none", "output_modalities": ["text"]}
    s.client(1100, "response.create", event_id="oob", response=oob)
    s.server(1150, "response.created", response={"id": "resp_oob", "conversation_id": None})
    s.server(1300, "response.done", response={"id": "resp_oob", "status": "completed"})
    s.client(1400, "response.create", event_id="r1")
    s.server(1450, "response.created", response={"id": "resp_m1", "conversation_id": "conv"})
    s.server(1700, "response.output_audio.delta", response_id="resp_m1", delta=b64(4800))
    result = normalize_file(s.write(tmp_path / "oob.jsonl"))
    turn = one(result, "turns", turn=1)
    assert turn["v2v_ms"] == 1700 - 1400  # the turn's create, not the out-of-band one (1100)
    assert turn["turn_gap_ms"] == 1450 - 1400
    assert one(result, "responses", response_id="resp_oob")["turn"] is None
    assert one(result, "responses", response_id="resp_m1")["trigger"] == "response.create"


def test_triggers_follow_the_request_each_response_answers(tmp_path):
    """An out-of-band create sent just before the VAD commits; a create the server refuses;
    an out-of-band response between a tool output and its follow-up."""
    s = Session()
    s.server(0, "session.created", session=beta_session())
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1")
    s.server(900, "input_audio_buffer.speech_stopped", audio_end_ms=800, item_id="u1")
    oob = {"conversation": "none", "modalities": ["text"]}
    s.client(905, "response.create", event_id="oob1", response=oob)
    s.server(950, "input_audio_buffer.committed", item_id="u1")
    s.server(1000, "response.created", response={"id": "r_vad", "conversation_id": "conv"})
    s.server(1010, "response.created", response={"id": "r_oob1", "conversation_id": None})
    s.client(1100, "response.create", event_id="refused")
    s.server(
        1110,
        "error",
        error={"code": "conversation_already_has_active_response", "event_id": "refused"},
    )
    call = {"id": "f1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    s.server(
        1200, "response.done", response={"id": "r_vad", "status": "completed", "output": [call]}
    )
    s.client(
        1500, "conversation.item.create", item={"type": "function_call_output", "call_id": "c1"}
    )
    s.client(1600, "response.create", event_id="oob2", response=oob)
    s.server(1650, "response.created", response={"id": "r_oob2", "conversation_id": None})
    s.client(1810, "response.create", event_id="followup")
    s.server(1900, "response.created", response={"id": "r_follow", "conversation_id": "conv"})
    s.server(2000, "input_audio_buffer.speech_started", audio_start_ms=1800, item_id="u2")
    s.server(2500, "input_audio_buffer.speech_stopped", audio_end_ms=2300, item_id="u2")
    s.server(2550, "input_audio_buffer.committed", item_id="u2")
    s.server(2600, "response.created", response={"id": "r_vad2", "conversation_id": "conv"})
    result = normalize_file(s.write(tmp_path / "triggers.jsonl"))
    triggers = {r["response_id"]: r["trigger"] for r in table(result, "responses")}
    assert triggers == {
        "r_vad": "turn",
        "r_oob1": "response.create",
        "r_oob2": "response.create",
        "r_follow": "function_call_output",
        "r_vad2": "turn",  # not the refused create's
    }


def test_commit_by_the_app_while_the_vad_hears_speech_is_a_manual_turn(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.client(50, "input_audio_buffer.append", audio=b64(48_000))
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1")
    s.client(800, "input_audio_buffer.commit", event_id="c1")  # no speech_stopped
    s.server(850, "input_audio_buffer.committed", item_id="u1")
    s.client(900, "response.create", event_id="rc")
    s.server(1000, "response.created", response={"id": "r1", "conversation_id": "conv"})
    s.server(1300, "response.output_audio.delta", response_id="r1", item_id="a1", delta=b64(4800))
    turn = one(normalize_file(s.write(tmp_path / "c.jsonl")), "turns", turn=1)
    assert turn["trigger"] == "manual"
    assert turn["speech_started_ms"] == 100
    assert turn["v2v_ms"] == 1300 - 900  # later of commit (800) and create (900)


# ---- barge-ins -------------------------------------------------------------------------------


def test_a_truncate_of_an_unknown_item_is_not_pinned_on_an_old_speech(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=50, item_id="u1")
    s.server(800, "input_audio_buffer.speech_stopped", audio_end_ms=750, item_id="u1")
    s.server(820, "input_audio_buffer.committed", item_id="u1")
    s.client(9000, "conversation.item.truncate", item_id="old_item", audio_end_ms=300)
    result = normalize_file(s.write(tmp_path / "tr.jsonl"))
    row = one(result, "interruptions", item_id="old_item")
    assert (row["speech_started_ms"], row["stop_ms"], row["turn"]) == (None, None, None)
    assert row["audio_played_ms"] == 300
    assert one(result, "turns", turn=1)["interrupted"] is False


@pytest.mark.parametrize("done_before_truncate", [False, True])
def test_push_to_talk_cancel_and_truncate_are_one_row_with_both(tmp_path, done_before_truncate):
    s = Session()
    s.server(0, "session.created", session=manual_ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))
    s.client(1000, "input_audio_buffer.commit", event_id="c1")
    s.server(1050, "input_audio_buffer.committed", item_id="m1")
    s.client(1100, "response.create", event_id="r1")
    s.server(1200, "response.created", response={"id": "resp1", "conversation_id": "conv"})
    assistant = {"id": "a1", "type": "message", "role": "assistant"}
    s.server(1210, "response.output_item.added", response_id="resp1", item=assistant)
    for t in (1300, 1400):  # 2 x 48,000 bytes = 2,000 ms generated
        s.server(
            t, "response.output_audio.delta", response_id="resp1", item_id="a1", delta=b64(48_000)
        )
    s.client(2000, "response.cancel", event_id="cx")
    done = {"id": "resp1", "status": "cancelled", "status_details": {"reason": "client_cancelled"}}
    if done_before_truncate:
        s.server(2001, "response.done", response=done)
    s.client(2002, "conversation.item.truncate", item_id="a1", audio_end_ms=600)
    if not done_before_truncate:
        s.server(2050, "response.done", response=done)
    row = one(normalize_file(s.write(tmp_path / "ptt.jsonl")), "interruptions", item_id="a1")
    assert row["reason"] == "client_cancelled"
    assert (row["cancel_ms"], row["truncate_ms"]) == (2000, 2002)
    assert (row["audio_generated_ms"], row["audio_played_ms"], row["audio_unheard_ms"]) == (
        2000,
        600,
        1400,
    )


# ---- audio formats, silence, cost ------------------------------------------------------------


def test_input_audio_is_counted_in_the_format_it_was_sent_in(tmp_path):
    s = Session()
    s.server(0, "session.created", session=beta_session(fmt="g711_ulaw"))
    s.client(10, "input_audio_buffer.append", audio=b64(8000))  # 8 bytes/ms: 1,000 ms
    s.client(100, "session.update", session={"input_audio_format": "pcm16"})
    s.client(110, "input_audio_buffer.append", audio=b64(48_000))  # sent after the update: 1,000 ms
    s.server(120, "session.updated", session=beta_session(fmt="pcm16"))
    s.client(130, "input_audio_buffer.append", audio=b64(24_000))  # 500 ms
    session = one(normalize_file(s.write(tmp_path / "fmt.jsonl")), "sessions")
    assert session["input_audio_format"] == "pcm16"
    assert session["input_audio_ms"] == 2500


def test_v2v_est_with_a_zero_silence_window_equals_v2v(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session(silence_ms=0))
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1")
    s.server(900, "input_audio_buffer.speech_stopped", audio_end_ms=800, item_id="u1")
    s.server(950, "input_audio_buffer.committed", item_id="u1")
    s.server(1000, "response.created", response={"id": "r1", "conversation_id": "conv"})
    s.server(1300, "response.output_audio.delta", response_id="r1", item_id="a1", delta=b64(4800))
    turn = one(normalize_file(s.write(tmp_path / "s.jsonl")), "turns", turn=1)
    assert turn["v2v_ms"] == turn["v2v_est_ms"] == 400


def test_zero_usage_without_details_costs_nothing_and_the_url_model_prices(tmp_path):
    s = Session()  # no session.created: the model is only in the header's URL (gpt-realtime)
    s.server(10, "response.created", response={"id": "r0", "conversation_id": "conv"})
    zero = {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0}
    s.server(20, "response.done", response={"id": "r0", "status": "cancelled", "usage": zero})
    s.server(30, "response.created", response={"id": "r1", "conversation_id": "conv"})
    s.server(
        40,
        "response.done",
        response={"id": "r1", "status": "completed", "usage": usage(10, 0, 0, 10)},
    )
    result = normalize_file(s.write(tmp_path / "cost.jsonl"))
    assert one(result, "responses", response_id="r0")["cost_usd"] == 0
    r1 = one(result, "responses", response_id="r1")
    assert r1["model"] == "gpt-realtime"
    # gpt-realtime: text in $4/M, audio out $64/M: 10 x 4 + 10 x 64 = 680 / 1e6
    assert r1["cost_usd"] == pytest.approx(0.00068)
    assert one(result, "sessions")["cost_usd"] == pytest.approx(0.00068)


# ---- found by a second review: refusals, stale requests, requests in flight ------------------


def audio_reply(s: Session, t: float, response_id: str) -> None:
    s.server(t, "response.created", response={"id": response_id, "conversation_id": "conv"})
    s.server(t + 200, "response.output_audio.delta", response_id=response_id, delta=b64(4800))
    s.server(t + 300, "response.done", response={"id": response_id, "status": "completed"})


def test_a_create_refused_after_a_response_was_matched_to_it_gives_that_response_back(
    tmp_path,
):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.server(1000, "input_audio_buffer.speech_started", audio_start_ms=700, item_id="u1")
    s.server(2000, "input_audio_buffer.speech_stopped", audio_end_ms=1800, item_id="u1")
    s.server(2050, "input_audio_buffer.committed", item_id="u1")
    s.client(2060, "response.create", event_id="evt_c1")
    audio_reply(s, 2100, "r1")  # the server's own, for the VAD commit
    refusal = {"code": "conversation_already_has_active_response", "event_id": "evt_c1"}
    s.server(2110, "error", error=refusal)
    result = normalize_file(s.write(tmp_path / "r.jsonl"))
    assert one(result, "responses", response_id="r1")["trigger"] == "turn"


def test_a_create_refused_without_its_event_id_does_not_shift_later_turns(tmp_path):
    s = Session()
    s.server(0, "session.created", session=manual_ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))
    s.client(1000, "input_audio_buffer.commit")
    s.server(1010, "input_audio_buffer.committed", item_id="u1")
    s.client(1020, "response.create", response={"voice": "nope"})
    s.server(1030, "error", error={"code": "invalid_value", "param": "response.voice"})
    s.client(1040, "response.create")  # the retry
    audio_reply(s, 1100, "r1")
    s.client(2000, "input_audio_buffer.append", audio=b64(48_000))
    s.client(5000, "input_audio_buffer.commit")
    s.server(5010, "input_audio_buffer.committed", item_id="u2")
    s.client(5500, "response.create")
    audio_reply(s, 5600, "r2")  # first audio at 5800
    result = normalize_file(s.write(tmp_path / "stale.jsonl"))
    turn2 = one(result, "turns", turn=2)
    assert turn2["v2v_ms"] == 5800 - 5500  # later of commit (5000) and its create (5500)
    assert turn2["turn_gap_ms"] == 5600 - 5500
    assert one(result, "turns", turn=1)["v2v_ms"] == 1300 - 1040  # the retry's create


def test_an_app_cancel_sent_just_before_the_response_was_created_is_its_cancel(tmp_path):
    s = Session()
    s.server(0, "session.created", session=manual_ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))
    s.client(1000, "input_audio_buffer.commit")
    s.server(1010, "input_audio_buffer.committed", item_id="u1")
    s.client(1020, "response.create")
    s.client(1090, "response.cancel")  # crosses the server's response.created on the wire
    s.server(1100, "response.created", response={"id": "r1", "conversation_id": "conv"})
    assistant = {"id": "a1", "type": "message", "role": "assistant"}
    s.server(1110, "response.output_item.added", response_id="r1", item=assistant)
    s.client(1120, "conversation.item.truncate", item_id="a1", audio_end_ms=0)
    done = {"id": "r1", "status": "cancelled", "status_details": {"reason": "client_cancelled"}}
    s.server(1150, "response.done", response=done)
    row = one(normalize_file(s.write(tmp_path / "c.jsonl")), "interruptions", item_id="a1")
    assert (row["cancel_ms"], row["truncate_ms"]) == (1090, 1120)


@pytest.mark.parametrize(
    ("case", "expected_ms"),
    [("refused", 1000), ("before session.created", 2000), ("two in flight", 1000)],
)
def test_input_audio_follows_the_format_requests_the_server_took(tmp_path, case, expected_ms):
    s = Session()
    if case == "refused":
        s.server(0, "session.created", session=beta_session())
        asked = {"input_audio_format": "g711_ulaw", "voice": "not-a-voice"}
        s.client(10, "session.update", event_id="evt_u", session=asked)
        s.server(20, "error", error={"code": "invalid_value", "event_id": "evt_u"})
        s.client(100, "input_audio_buffer.append", audio=b64(48_000))  # pcm16 still: 1,000 ms
    elif case == "before session.created":  # connect and configure at once
        s.client(0, "session.update", session={"input_audio_format": "g711_ulaw"})
        s.server(5, "session.created", session=beta_session())  # made before the update
        s.client(100, "input_audio_buffer.append", audio=b64(8000))  # g711: 1,000 ms
        s.server(150, "session.updated", session=beta_session(fmt="g711_ulaw"))
        s.client(200, "input_audio_buffer.append", audio=b64(8000))  # 1,000 ms
    else:
        s.server(0, "session.created", session=beta_session())
        s.client(10, "session.update", session={"input_audio_format": "g711_ulaw"})
        s.client(11, "session.update", session={"input_audio_format": "pcm16"})
        s.server(30, "session.updated", session=beta_session(fmt="g711_ulaw"))
        s.client(40, "input_audio_buffer.append", audio=b64(48_000))  # pcm16 by now: 1,000 ms
        s.server(60, "session.updated", session=beta_session(fmt="pcm16"))
    session = one(normalize_file(s.write(tmp_path / "f.jsonl")), "sessions")
    assert session["input_audio_ms"] == expected_ms


@pytest.mark.parametrize("timestamps", [True, False])
def test_a_vad_turn_with_an_extra_app_commit_stays_a_vad_turn_with_or_without_times(
    tmp_path, timestamps
):
    def at(t: float) -> float | None:
        return t if timestamps else None

    s = Session(header=timestamps)
    s.server(at(0), "session.created", session=ga_session())
    s.server(at(1000), "input_audio_buffer.speech_started", audio_start_ms=700, item_id="u1")
    s.server(at(2000), "input_audio_buffer.speech_stopped", audio_end_ms=1800, item_id="u1")
    s.client(at(2001), "input_audio_buffer.commit")
    s.server(at(2050), "input_audio_buffer.committed", item_id="u1")
    turn = one(normalize_file(s.write(tmp_path / "v.jsonl")), "turns", turn=1)
    assert turn["trigger"] == "server_vad"


def test_an_app_commit_logged_before_the_speech_it_ends_makes_a_manual_turn(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))
    s.client(1000, "input_audio_buffer.commit")
    s.server(1005, "input_audio_buffer.speech_started", audio_start_ms=700, item_id="u1")
    s.server(1010, "input_audio_buffer.committed", item_id="u1")
    s.client(1020, "response.create")
    audio_reply(s, 1100, "r1")  # first audio at 1300
    turn = one(normalize_file(s.write(tmp_path / "m.jsonl")), "turns", turn=1)
    assert turn["trigger"] == "manual"
    assert turn["v2v_ms"] == 1300 - 1020


# ---- found by a third review: transcriptions, errors, sessions -------------------------------


def test_a_transcription_is_priced_with_the_model_that_did_it(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session(transcription=True))  # gpt-4o-transcribe
    s.server(1000, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1")
    s.server(1100, "input_audio_buffer.speech_stopped", audio_end_ms=500, item_id="u1")
    s.server(1150, "input_audio_buffer.committed", item_id="u1")
    tokens = {
        "type": "tokens",
        "input_tokens": 16,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 16},
        "output_tokens": 8,
    }
    done = "conversation.item.input_audio_transcription.completed"
    s.server(1500, done, item_id="u1", transcript="hello", usage=tokens)
    s.server(1600, "session.updated", session=ga_session(transcription=False))  # off from here
    result = normalize_file(s.write(tmp_path / "tr.jsonl"))
    row = one(result, "transcriptions", item_id="u1")
    assert row["model"] == "gpt-4o-transcribe"
    # 16 audio tokens x $6/M + 8 output tokens x $10/M = 176 / 1e6
    assert row["cost_usd"] == pytest.approx(0.000176)
    assert one(result, "sessions")["cost_usd"] == pytest.approx(0.000176)


def test_a_transcription_that_succeeds_after_failing_keeps_no_error(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session(transcription=True))
    s.server(100, "input_audio_buffer.committed", item_id="u1")
    failed = "conversation.item.input_audio_transcription.failed"
    s.server(200, failed, item_id="u1", error={"code": "audio_unintelligible", "message": "no"})
    done = "conversation.item.input_audio_transcription.completed"
    s.server(300, done, item_id="u1", transcript="yes")
    row = one(normalize_file(s.write(tmp_path / "t.jsonl")), "transcriptions", item_id="u1")
    assert (row["status"], row["error"], row["transcript"]) == ("completed", None, "yes")


def test_unreadable_client_frames_are_paired_with_the_errors_that_answer_them(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.raw('{"ts":1764067052.010000,"dir":"client","text":"not json"}')
    s.server(20, "error", error={"code": "invalid_json", "event_id": None})
    s.raw('{"ts":1764067052.100000,"dir":"client","event":{"foo":1}}')  # JSON, no type
    s.server(110, "error", error={"code": "invalid_event", "event_id": None})
    s.raw('{"ts":1764067052.200000,"dir":"client","text":"still not json"}')
    s.raw('{"ts":1764067052.201000,"dir":"client","binary":"AAAA"}')
    s.server(210, "error", error={"code": "invalid_json", "event_id": None})
    s.server(211, "error", error={"code": "invalid_event", "event_id": None})
    s.server(300, "error", error={"code": "invalid_event", "event_id": None})  # nothing left
    errors = table(normalize_file(s.write(tmp_path / "e.jsonl")), "errors")
    assert [e["client_event_type"] for e in errors] == [
        "(non-JSON text frame)",
        "(event without a type)",
        "(non-JSON text frame)",
        "(binary frame)",
        None,
    ]


def test_non_string_codes_and_params_are_kept_as_json(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.server(10, "error", error={"code": 500, "param": ["session", "voice"], "message": "x"})
    row = one(normalize_file(s.write(tmp_path / "c.jsonl")), "errors")
    assert (row["code"], row["param"]) == ("500", '["session","voice"]')


def test_a_file_without_timestamps_has_no_start_time_even_with_a_header(tmp_path):
    s = Session()  # the header says when it started, but no line has a time
    s.server(None, "session.created", session=ga_session())
    s.server(None, "response.created", response={"id": "r1", "conversation_id": "conv"})
    session = one(normalize_file(s.write(tmp_path / "n.jsonl")), "sessions")
    assert (session["started_ts"], session["ended_ts"], session["duration_ms"]) == (None,) * 3


@pytest.mark.parametrize("ids", [True, False])
def test_a_duplicate_create_refused_leaves_the_answer_with_the_first(tmp_path, ids):
    s = Session()
    s.server(0, "session.created", session=manual_ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))
    s.client(1000, "input_audio_buffer.commit")
    s.server(1010, "input_audio_buffer.committed", item_id="u1")
    s.client(1020, "response.create", **({"event_id": "c1"} if ids else {}))
    s.client(1030, "response.create", **({"event_id": "c2"} if ids else {}))  # a duplicate
    s.server(1100, "response.created", response={"id": "r1", "conversation_id": "conv"})
    refusal = {
        "code": "conversation_already_has_active_response",
        "event_id": "c2" if ids else None,
    }
    s.server(1110, "error", error=refusal)
    s.server(1300, "response.output_audio.delta", response_id="r1", delta=b64(4800))
    result = normalize_file(s.write(tmp_path / "dup.jsonl"))
    assert one(result, "responses", response_id="r1")["trigger"] == "response.create"
    assert one(result, "turns", turn=1)["v2v_ms"] == 1300 - 1020  # from the first create


def test_an_error_naming_a_typeless_event_is_not_taken_by_a_later_frame(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.raw('{"ts":1764067052.100000,"dir":"client","event":{"event_id":"event_567"}}')
    s.server(110, "error", error={"code": "invalid_event", "event_id": "event_567"})
    s.raw('{"ts":1764067052.200000,"dir":"client","binary":"AAAA"}')
    s.server(210, "error", error={"code": "invalid_event", "event_id": None})
    errors = table(normalize_file(s.write(tmp_path / "e.jsonl")), "errors")
    assert [e["client_event_type"] for e in errors] == ["(event without a type)", "(binary frame)"]


def test_a_response_whose_creates_are_all_refused_is_the_servers_own(tmp_path):
    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1")
    s.server(900, "input_audio_buffer.speech_stopped", audio_end_ms=800, item_id="u1")
    s.server(950, "input_audio_buffer.committed", item_id="u1")
    s.client(960, "response.create", event_id="c1")
    s.client(970, "response.create", event_id="c2")
    s.server(1000, "response.created", response={"id": "r1", "conversation_id": "conv"})
    for refused in ("c1", "c2"):
        refusal = {"code": "conversation_already_has_active_response", "event_id": refused}
        s.server(1010, "error", error=refusal)
    result = normalize_file(s.write(tmp_path / "both.jsonl"))
    assert one(result, "responses", response_id="r1")["trigger"] == "turn"
