"""Row-level data for the report's tables and figures (one session or a few)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rtlens.analysis.summary import SCOPE
from rtlens.store.engine import duckdb


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def turn_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The per-turn table: latency numbers, flags and transcript, in order."""
    return _dicts(
        con.execute(
            f"""SELECT l.session_id, l.turn, l.trigger, l.v2v_ms, l.v2v_est_ms, l.ttfa_ms,
                       l.turn_gap_ms, l.response_ms, l.transcription_ms, l.category,
                       l.interrupted, l.reply_interrupted, l.has_tool_call,
                       l.transcript_after_reply, l.response_status, t.transcript,
                       l.speech_started_ms, l.speech_stopped_ms, l.committed_ms, l.first_audio_ms
                FROM turn_latency l JOIN turns t USING (session_id, turn)
                WHERE l.session_id IN (SELECT session_id FROM {SCOPE})
                ORDER BY l.session_id, l.turn"""
        )
    )


def response_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            f"""SELECT c.*, r.first_audio_ms, r.done_ms, r.audio_ms, r.trigger,
                       r.has_function_call, r.status_reason
                FROM response_costs c JOIN responses r USING (session_id, response_id)
                WHERE c.session_id IN (SELECT session_id FROM {SCOPE})
                ORDER BY c.session_id, c.created_ms NULLS LAST, c.response_id"""
        )
    )


def rate_limit_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            f"""SELECT session_id, t_ms, name, "limit", remaining, remaining_pct, turn
                FROM rate_limits WHERE session_id IN (SELECT session_id FROM {SCOPE})
                ORDER BY session_id, seq, name"""
        )
    )


def interruption_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            f"""SELECT * FROM interruptions WHERE session_id IN (SELECT session_id FROM {SCOPE})
                ORDER BY session_id, coalesce(speech_started_ms, cancel_ms, truncate_ms)"""
        )
    )


def function_call_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            f"""SELECT * FROM function_calls WHERE session_id IN (SELECT session_id FROM {SCOPE})
                ORDER BY session_id, arguments_done_ms NULLS LAST"""
        )
    )


def reply_text_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each response's turn and transcript (text or audio transcript), in order."""
    return _dicts(
        con.execute(
            f"""SELECT response_id, turn, text, created_ms, status FROM responses
                WHERE session_id IN (SELECT session_id FROM {SCOPE})
                ORDER BY created_ms NULLS LAST, response_id"""
        )
    )


@dataclass(frozen=True)
class EventRow:
    """One event line as the session page's inspector shows it."""

    seq: int
    t_ms: float | None
    direction: str | None
    type: str | None
    raw: str | None  # the event's JSON with audio payloads replaced by ""


def iter_event_rows(con: duckdb.DuckDBPyConnection, batch: int = 2000) -> Iterator[EventRow]:
    """Every event of the scope in order, fetched in batches so a long call is never held
    whole."""
    cur = con.execute(
        f"""SELECT seq, t_ms, direction, type, raw::VARCHAR FROM events
            WHERE session_id IN (SELECT session_id FROM {SCOPE}) ORDER BY seq"""
    )
    while rows := cur.fetchmany(batch):
        yield from (EventRow(*row) for row in rows)
