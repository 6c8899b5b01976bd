"""One trace per session from the tables: the span tree docs/otel.md describes.

The records here are plain dataclasses, so the tree can be built and checked without the
OpenTelemetry SDK. Ids are derived from the session id and each row's own key (never
random), so exporting a session twice gives the same trace and span ids and a collector
can deduplicate. Sessions are read table by table in one ordered pass each (a merge on
session_id), so memory holds one session's rows at a time, whatever the database size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rtlens.store.engine import duckdb

Attr = str | bool | int | float
GEN_AI_SYSTEM = "openai"
_BATCH = 2048  # rows fetched at a time from each table's ordered scan


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Attr] = field(default_factory=dict)


@dataclass(frozen=True)
class SpanRecord:
    """One span: ids are 128-bit (trace) and 64-bit (span) integers, times ns since 1970."""

    trace_id: int
    span_id: int
    parent_id: int | None
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Attr]
    error: str | None = None  # the status description when the span's status is error
    events: tuple[SpanEvent, ...] = ()


@dataclass(frozen=True)
class SessionTrace:
    session_id: str
    spans: list[SpanRecord]  # the root first


def trace_id(session_id: str) -> int:
    """128 bits of sha256 of the session id: the same session always gets the same trace."""
    return _hash("trace", session_id, 16)


def span_id(session_id: str, kind: str, key: str) -> int:
    """64 bits of sha256 of (session, kind, the row's key); never 0 (OTLP's "no span")."""
    return _hash("span", f"{session_id}\0{kind}\0{key}", 8)


def _hash(what: str, text: str, n: int) -> int:
    value = int.from_bytes(hashlib.sha256(f"rtlens {what}\0{text}".encode()).digest()[:n], "big")
    return value or 1


# table -> (span kind, the column that keys its span): one span per row of these
SPAN_TABLES = {
    "turns": ("turn", "turn"),
    "responses": ("response", "response_id"),
    "function_calls": ("tool", "call_id"),
    "transcriptions": ("transcription", "item_id"),
}


def row_key(table: str, row: dict[str, Any], index: int) -> str:
    """A row's key in its span id: its own id, else its place in the session's rows."""
    value = row[SPAN_TABLES[table][1]]
    return f"#{index}" if value is None else str(value)


def row_span_id(session_id: str, table: str, row: dict[str, Any], index: int) -> int:
    """The id of the span of `row`, the `index`-th row of `table` in the session (in the
    order of `_QUERIES`)."""
    return span_id(session_id, SPAN_TABLES[table][0], row_key(table, row, index))


# ---- reading the tables in one ordered pass each -----------------------------------------

_QUERIES = {
    "sessions": "SELECT *, epoch_us(started_ts) AS started_us, epoch_us(ended_ts) AS ended_us "
    "FROM sessions ORDER BY session_id",
    "turns": "SELECT * FROM turns ORDER BY session_id, turn",
    "responses": "SELECT * FROM responses ORDER BY session_id, created_ms NULLS LAST, response_id",
    "function_calls": "SELECT * FROM function_calls "
    "ORDER BY session_id, arguments_done_ms NULLS LAST, call_id",
    "transcriptions": "SELECT * FROM transcriptions "
    "ORDER BY session_id, committed_ms NULLS LAST, item_id",
    "interruptions": "SELECT * FROM interruptions ORDER BY session_id, speech_started_ms",
    "errors": "SELECT * FROM errors ORDER BY session_id, seq",
    "rate_limits": "SELECT session_id, name, min(remaining_pct) AS min_remaining_pct "
    "FROM rate_limits GROUP BY session_id, name ORDER BY session_id, name",
}


def _nulls_last(*columns: str) -> Any:
    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(x for c in columns for x in (row[c] is None, row[c] or 0))

    return key


def session_rows(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """One session's table rows (as the normalizer gives them, e.g. live from the relay)
    ordered and aggregated as `_QUERIES` reads them from the database, for `build_trace`."""
    out = {
        "turns": sorted(rows["turns"], key=_nulls_last("turn")),
        "responses": sorted(rows["responses"], key=_nulls_last("created_ms", "response_id")),
        "function_calls": sorted(
            rows["function_calls"], key=_nulls_last("arguments_done_ms", "call_id")
        ),
        "transcriptions": sorted(
            rows["transcriptions"], key=_nulls_last("committed_ms", "item_id")
        ),
        "interruptions": sorted(rows["interruptions"], key=_nulls_last("speech_started_ms")),
        "errors": sorted(rows["errors"], key=_nulls_last("seq")),
    }
    lowest: dict[str | None, float | None] = {}
    for r in rows["rate_limits"]:
        pct, before = r["remaining_pct"], lowest.get(r["name"])
        lowest[r["name"]] = pct if before is None else before if pct is None else min(pct, before)
    out["rate_limits"] = [
        {"name": name, "min_remaining_pct": pct}
        for name, pct in sorted(lowest.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]
    return out


class _Groups:
    """Rows of one ordered query, handed out one session at a time."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        self._cur = con.cursor()
        self._cur.execute(sql)
        self._names = [d[0] for d in self._cur.description or []]
        self._buffer: list[tuple[Any, ...]] = []
        self._pos = 0

    def _peek(self) -> dict[str, Any] | None:
        if self._pos >= len(self._buffer):
            self._buffer, self._pos = self._cur.fetchmany(_BATCH), 0
            if not self._buffer:
                return None
        return dict(zip(self._names, self._buffer[self._pos], strict=True))

    def next(self) -> dict[str, Any] | None:
        """The next row, or None at the end."""
        row = self._peek()
        if row is not None:
            self._pos += 1
        return row

    def take(self, session_id: str) -> list[dict[str, Any]]:
        """The rows of `session_id` (rows of sessions before it, if any, are skipped)."""
        out = []
        while (row := self._peek()) is not None and row["session_id"] <= session_id:
            self._pos += 1
            if row["session_id"] == session_id:
                out.append(row)
        return out


def session_traces(
    con: duckdb.DuckDBPyConnection, session_ids: list[str] | None = None
) -> Iterator[SessionTrace]:
    """Each session's trace, in session id order (`session_ids`: only those)."""
    groups = {name: _Groups(con, sql) for name, sql in _QUERIES.items()}
    wanted = None if session_ids is None else set(session_ids)
    sessions = groups.pop("sessions")
    while (row := sessions.next()) is not None:
        sid = row["session_id"]
        rows = {name: g.take(sid) for name, g in groups.items()}
        if wanted is None or sid in wanted:
            yield build_trace(row, rows)


# ---- building one session's tree --------------------------------------------------------


def build_trace(session: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> SessionTrace:
    """The spans of one session: root, then turns, responses, tool calls, transcriptions."""
    sid = session["session_id"]
    tid = trace_id(sid)
    origin_us = session["started_us"] or 0
    end_us = session["ended_us"] or origin_us

    def at(ms: float | None, default_ns: int) -> int:
        return default_ns if ms is None else origin_us * 1000 + round(ms * 1_000_000)

    session_end = end_us * 1000
    root_id = span_id(sid, "session", "")
    model = session["model"]
    common: dict[str, Attr | None] = {"gen_ai.system": GEN_AI_SYSTEM, "gen_ai.request.model": model}
    spans: list[SpanRecord] = []

    turn_ids: dict[int, int] = {}
    for t in rows["turns"]:
        turn_ids[t["turn"]] = row_span_id(sid, "turns", t, 0)
    response_ids: dict[str, int] = {}
    for i, r in enumerate(rows["responses"]):
        key = row_key("responses", r, i)
        response_ids.setdefault(key, span_id(sid, "response", key))
    unheard: dict[str | None, float] = {}
    for x in rows["interruptions"]:
        unheard[x["response_id"]] = unheard.get(x["response_id"], 0.0) + (
            x["audio_unheard_ms"] or 0.0
        )

    for t in rows["turns"]:
        start_ms = _first(t["speech_started_ms"], t["committed_ms"], t["response_created_ms"])
        start = at(start_ms, session["started_us"] * 1000)
        end = max(start, at(_first(t["first_audio_ms"], t["committed_ms"]), start))
        spans.append(
            SpanRecord(
                tid,
                turn_ids[t["turn"]],
                root_id,
                f"turn {t['turn']}",
                start,
                end,
                _attrs(
                    {
                        **common,
                        "gen_ai.response.id": t["response_id"],
                        "rtlens.turn": t["turn"],
                        "rtlens.turn.trigger": t["trigger"],
                        "rtlens.v2v_ms": t["v2v_ms"],
                        "rtlens.v2v_est_ms": t["v2v_est_ms"],
                        "rtlens.text_to_reply_ms": t["text_to_reply_ms"],
                        "rtlens.turn_gap_ms": t["turn_gap_ms"],
                        "rtlens.ttfa_ms": t["ttfa_ms"],
                        "rtlens.interrupted": t["interrupted"],
                        "rtlens.reply_interrupted": t["reply_interrupted"],
                        "rtlens.has_tool_call": t["has_tool_call"],
                    }
                ),
            )
        )

    for i, r in enumerate(rows["responses"]):
        key = row_key("responses", r, i)
        start = at(r["created_ms"], session_end)
        end = max(start, at(r["done_ms"], session_end))
        parent = turn_ids.get(r["turn"], root_id) if r["turn"] is not None else root_id
        failed = r["status"] == "failed"
        spans.append(
            SpanRecord(
                tid,
                response_ids[key],
                parent,
                "response",
                start,
                end,
                _attrs(
                    {
                        **common,
                        "gen_ai.operation.name": "realtime",
                        "gen_ai.request.model": r["model"] or model,
                        "gen_ai.response.id": r["response_id"],
                        "gen_ai.response.finish_reasons": r["status"],
                        "gen_ai.usage.input_tokens": r["input_tokens"],
                        "gen_ai.usage.output_tokens": r["output_tokens"],
                        "rtlens.usage.total_tokens": r["total_tokens"],
                        "rtlens.usage.cached_tokens": r["cached_tokens"],
                        "rtlens.usage.input_text_tokens": r["input_text_tokens"],
                        "rtlens.usage.input_audio_tokens": r["input_audio_tokens"],
                        "rtlens.usage.output_text_tokens": r["output_text_tokens"],
                        "rtlens.usage.output_audio_tokens": r["output_audio_tokens"],
                        "rtlens.cost_usd": r["cost_usd"],
                        "rtlens.turn": r["turn"],
                        "rtlens.response.trigger": r["trigger"],
                        "rtlens.response.status_reason": r["status_reason"],
                        "rtlens.ttfa_ms": r["ttfa_ms"],
                        "rtlens.audio_ms": r["audio_ms"],
                        "rtlens.audio_unheard_ms": unheard.get(r["response_id"]),
                    }
                ),
                error=(r["status_reason"] or "failed") if failed else None,
            )
        )

    for i, f in enumerate(rows["function_calls"]):
        start = at(f["arguments_done_ms"], session_end)
        end = max(start, at(f["output_ms"], start))
        spans.append(
            SpanRecord(
                tid,
                row_span_id(sid, "function_calls", f, i),
                response_ids.get(f["response_id"], root_id),
                f"execute_tool {f['name']}",
                start,
                end,
                _attrs(
                    {
                        **common,
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": f["name"],
                        "gen_ai.tool.call.id": f["call_id"],
                        "gen_ai.response.id": f["response_id"],
                        "rtlens.turn": f["turn"],
                        "rtlens.tool_ms": f["tool_ms"],
                        "rtlens.tool_to_audio_ms": f["tool_to_audio_ms"],
                    }
                ),
            )
        )

    for i, x in enumerate(rows["transcriptions"]):
        start = at(_first(x["committed_ms"], x["first_delta_ms"], x["done_ms"]), session_end)
        end = max(start, at(x["done_ms"], session_end))
        parent = turn_ids.get(x["turn"], root_id) if x["turn"] is not None else root_id
        spans.append(
            SpanRecord(
                tid,
                row_span_id(sid, "transcriptions", x, i),
                parent,
                "transcription",
                start,
                end,
                _attrs(
                    {
                        "gen_ai.system": GEN_AI_SYSTEM,
                        "gen_ai.request.model": x["model"],
                        "gen_ai.usage.input_tokens": x["input_tokens"],
                        "gen_ai.usage.output_tokens": x["output_tokens"],
                        "rtlens.turn": x["turn"],
                        "rtlens.transcription.status": x["status"],
                        "rtlens.transcription.latency_ms": x["latency_ms"],
                        "rtlens.audio_ms": x["audio_ms"],
                        "rtlens.cost_usd": x["cost_usd"],
                    }
                ),
                error=(x["error"] or "failed") if x["status"] == "failed" else None,
            )
        )

    errors = tuple(
        SpanEvent(
            "exception",
            at(e["t_ms"], session_end),
            _attrs(
                {
                    "exception.type": e["type"],
                    "exception.message": e["message"],
                    "error.type": e["code"] or e["type"],
                    "rtlens.error.source": e["source"],
                    "rtlens.error.param": e["param"],
                    "gen_ai.response.id": e["response_id"],
                }
            ),
        )
        for e in rows["errors"]
    )
    headroom = {
        f"rtlens.rate_limit.{r['name']}.min_remaining_pct": r["min_remaining_pct"]
        for r in rows["rate_limits"]
        if r["name"] is not None
    }
    root = SpanRecord(
        tid,
        root_id,
        None,
        "realtime session",
        origin_us * 1000,
        max(origin_us, end_us) * 1000,
        _attrs(
            {
                **common,
                "gen_ai.usage.input_tokens": sum(r["input_tokens"] or 0 for r in rows["responses"]),
                "gen_ai.usage.output_tokens": sum(
                    r["output_tokens"] or 0 for r in rows["responses"]
                ),
                "rtlens.session_id": sid,
                "rtlens.server_session_id": session["server_session_id"],
                "rtlens.dialect": session["dialect"],
                "rtlens.transport": session["transport"],
                "rtlens.voice": session["voice"],
                "rtlens.turns": session["n_turns"],
                "rtlens.responses": session["n_responses"],
                "rtlens.interruptions": session["n_interruptions"],
                "rtlens.errors": session["n_errors"],
                "rtlens.cost_usd": session["cost_usd"],
                "rtlens.cost_usd_known": session["cost_usd_known"],
                "rtlens.audio_unheard_ms": sum(unheard.values()),
                "rtlens.input_audio_ms": session["input_audio_ms"],
                "rtlens.output_audio_ms": session["output_audio_ms"],
                **headroom,
            }
        ),
        error=f"{len(errors)} error event(s)" if errors else None,
        events=errors,
    )
    return SessionTrace(sid, [root, *spans])


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _attrs(values: dict[str, Attr | None]) -> dict[str, Attr]:
    """OTLP has no null: an attribute the row does not know is left out."""
    return {k: v for k, v in values.items() if v is not None}
