"""Real captures from public projects, read in place from ../shared/corpus (never copied).

They are other people's data (see ../shared/corpus/SOURCES.md), so these tests skip, with
that reason, only when ../shared is not beside the checkout.
"""

from __future__ import annotations

import pytest
from builders import CORPUS

from rtlens.ingest.normalize import normalize_file
from rtlens.logfile.reader import EVENT, read_records
from rtlens.schema import TABLES

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"real captures not found at {CORPUS} (../shared is absent)"
)

LOG_1 = CORPUS / "derived" / "ctvidic__banyan-landing__docs_log_1.server_events.jsonl"
LOG_2 = CORPUS / "derived" / "ctvidic__banyan-landing__docs_log_2.server_events.jsonl"
GA_WS = (
    CORPUS
    / "bravedigger__openai_realtime_sip_gateway__openai_realtime.cpp.EXTRACTED_COMMENT_EVENTS.jsonl"
)


def rows(result, name):
    cols = TABLES[name].column_names
    return [dict(zip(cols, r, strict=True)) for r in result.rows[name]]


def test_beta_webrtc_capture_loads_completely():
    result = normalize_file(LOG_1)
    (session,) = rows(result, "sessions")
    assert session["n_events"] == 413 and session["n_unknown_events"] == 0
    assert session["dialect"] == "beta" and session["transport"] == "webrtc"
    assert session["model"] == "gpt-4o-realtime-preview-2024-12-17"
    assert session["voice"] == "coral" and session["transcription_model"] == "whisper-1"
    assert (session["vad_threshold"], session["silence_duration_ms"]) == (0.5, 200)
    assert rows(result, "ingest_errors") == []
    # every event, in order, with its wire type
    assert [e["seq"] for e in rows(result, "events")] == list(range(413))


def test_beta_webrtc_responses_and_cancellations():
    result = normalize_file(LOG_1)
    responses = rows(result, "responses")
    assert len(responses) == 12  # the 12th response.done is cut off in the browser log
    statuses = [r["status"] for r in responses]
    assert statuses.count("completed") == 3 and statuses.count("cancelled") == 8
    assert statuses[-1] == "in_progress"
    zero_usage = [r for r in responses if r["status"] == "cancelled" and r["total_tokens"] == 0]
    assert len(zero_usage) == 4  # cancelled before any output: output [] and zero usage
    for r in responses:
        if r["input_tokens"] is not None:
            assert r["total_tokens"] == r["input_tokens"] + r["output_tokens"]
            assert r["input_tokens"] == r["input_text_tokens"] + r["input_audio_tokens"]
            assert r["cached_tokens"] <= r["input_tokens"]


def test_beta_webrtc_server_truncations_are_what_the_user_heard():
    result = normalize_file(LOG_1)
    played = sorted(
        r["audio_played_ms"] for r in rows(result, "interruptions") if r["truncated_by"]
    )
    assert played == [0, 20, 1680, 2460, 4000]  # the five conversation.item.truncated
    assert all(r["truncated_by"] in (None, "server") for r in rows(result, "interruptions"))
    after_completion = [r for r in rows(result, "interruptions") if r["reason"] == "truncated"]
    assert [r["audio_played_ms"] for r in after_completion] == [4000]


def test_beta_webrtc_rate_limits_and_transcripts():
    result = normalize_file(LOG_1)
    limits = rows(result, "rate_limits")
    assert len(limits) == 16  # 8 rate_limits.updated x (requests, tokens)
    assert {r["name"] for r in limits} == {"requests", "tokens"}
    assert {r["limit"] for r in limits if r["name"] == "tokens"} == {15_000_000}
    transcripts = [t for t in rows(result, "transcriptions") if t["status"] == "completed"]
    assert len(transcripts) == 11
    assert "supervisor" in " ".join(t["transcript"] for t in transcripts)


def test_barge_in_after_a_completed_response():
    result = normalize_file(LOG_2)
    (row,) = rows(result, "interruptions")
    assert row["reason"] == "truncated" and row["audio_played_ms"] == 1860
    responses = rows(result, "responses")
    assert [r["status"] for r in responses] == ["completed", "completed"]
    assert row["response_id"] == responses[0]["response_id"]
    cached = [r["cached_tokens"] for r in responses]
    assert all(c is not None for c in cached)


def test_ga_websocket_capture():
    result = normalize_file(GA_WS)
    (session,) = rows(result, "sessions")
    assert session["dialect"] == "ga" and session["model"] == "gpt-realtime"
    assert session["voice"] == "alloy" and session["n_unknown_events"] == 0
    (limit,) = rows(result, "rate_limits")
    assert (limit["name"], limit["limit"], limit["remaining"], limit["reset_seconds"]) == (
        "tokens",
        40000,
        38490,
        2.265,
    )
    done = [r for r in rows(result, "responses") if r["status"] == "completed"]
    assert len(done) == 1
    r = done[0]
    # the documented real sample: input 132 = text 59 + audio 73; cached 64 = audio 64
    assert (r["input_tokens"], r["input_text_tokens"], r["input_audio_tokens"]) == (132, 59, 73)
    assert (r["cached_tokens"], r["cached_text_tokens"], r["cached_audio_tokens"]) == (64, 0, 64)
    assert (r["output_text_tokens"], r["output_audio_tokens"], r["total_tokens"]) == (41, 147, 320)
    turns = rows(result, "turns")
    assert [(t["audio_start_ms"], t["audio_end_ms"]) for t in turns] == [
        (1236, 3808),
        (11956, 14720),
    ]


def test_every_corpus_jsonl_reads_without_errors():
    files = sorted(CORPUS.rglob("*.jsonl"))
    assert files
    for path in files:
        records = list(read_records(path))
        assert records and all(r[0] == EVENT for r in records), path
