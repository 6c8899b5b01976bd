"""The report's numbers, computed in SQL over the tables and shared views.

`summarize` returns the `rtlens report --json` object (SPEC §2 keys and more). Every value
is one SQL aggregate over the rows of the sessions in scope, so `rtlens query` gives the
same number. Percentiles are DuckDB's `quantile_cont` (linear interpolation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rtlens.ingest.pricing import prices_for
from rtlens.store.engine import duckdb

SCOPE = "report_scope"
LOW_HEADROOM_PCT = 10.0
DEFAULT_V2V_THRESHOLD_MS = 1200.0
QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95))


def set_scope(con: duckdb.DuckDBPyConnection, session_ids: Sequence[str] | None) -> int:
    """Limit the report to these sessions (None: every session). Returns how many."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE} (session_id VARCHAR PRIMARY KEY)")
    if session_ids is None:
        con.execute(f"INSERT INTO {SCOPE} SELECT session_id FROM sessions")
    else:
        con.execute(f"INSERT INTO {SCOPE} SELECT DISTINCT unnest(?)", [list(session_ids)])
    row = con.execute(f"SELECT count(*) FROM {SCOPE}").fetchone()
    return int(row[0]) if row else 0


def _in_scope(alias: str = "") -> str:
    col = f"{alias}.session_id" if alias else "session_id"
    return f"{col} IN (SELECT session_id FROM {SCOPE})"


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    return row[0] if row else None


def _dist(con: duckdb.DuckDBPyConnection, column: str, source: str, where: str = "") -> dict:
    cond = f"{column} IS NOT NULL AND {_in_scope()}" + (f" AND {where}" if where else "")
    parts = ", ".join(f"quantile_cont({column}, {q})" for _, q in QUANTILES)
    row = con.execute(
        f"SELECT count({column}), {parts}, max({column}) FROM {source} WHERE {cond}"
    ).fetchone()
    assert row is not None
    out: dict[str, Any] = {"n": row[0]}
    for (name, _), value in zip(QUANTILES, row[1:-1], strict=True):
        out[name] = value
    out["max"] = row[-1]
    return out


def summarize(
    con: duckdb.DuckDBPyConnection, *, v2v_threshold_ms: float = DEFAULT_V2V_THRESHOLD_MS
) -> dict[str, Any]:
    """The report object for the sessions in scope (call `set_scope` first)."""
    n_sessions = _one(con, f"SELECT count(*) FROM sessions WHERE {_in_scope()}")
    summary: dict[str, Any] = {
        "sessions": n_sessions,
        "turns": _one(con, f"SELECT count(*) FROM turns WHERE {_in_scope()}"),
        "responses": _one(con, f"SELECT count(*) FROM responses WHERE {_in_scope()}"),
        "duration_ms": _one(con, f"SELECT sum(duration_ms) FROM sessions WHERE {_in_scope()}"),
        "latency": _latency(con),
        "tokens": _tokens(con),
        "rate_limits": _rate_limits(con),
        "interruptions": _interruptions(con),
        "errors": _errors(con),
        "function_calls": _function_calls(con),
        "transcriptions": _transcriptions(con),
        "input": _input_notices(con),
    }
    if n_sessions == 1:
        summary["session"] = _session_facts(con)
    elif n_sessions > 1:
        summary["fleet"] = _fleet(con)
    summary["warnings"] = warnings(con, summary, v2v_threshold_ms)
    return summary


def _latency(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    out = {
        name: _dist(con, name, "turn_latency")
        for name in ("v2v_ms", "v2v_est_ms", "turn_gap_ms", "ttfa_ms", "response_ms")
    }
    out["by_category"] = {
        cat: _dist(con, "v2v_ms", "turn_latency", f"category = '{cat}'")
        for cat in ("clean", "tool", "interrupted")
    }
    # Typed turns have no voice: their own latency, in their own category, never in v2v.
    out["by_category"]["text"] = _dist(con, "text_to_reply_ms", "turn_latency", "category = 'text'")
    out["headline"] = headline(out["by_category"])
    return out


def headline(cats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The voice-to-voice figure the report leads with: clean turns when there are any, else
    the turns there are (all barge-ins, all tool turns), said so, never an empty "-"."""
    for cat in ("clean", "interrupted", "tool"):
        if cats[cat]["n"]:
            d = cats[cat]
            voiced = sum(cats[c]["n"] for c in ("clean", "interrupted", "tool"))
            return {"category": cat, "n": d["n"], "of": voiced, "p50": d["p50"], "p95": d["p95"]}
    return {"category": None, "n": 0, "of": 0, "p50": None, "p95": None}


def headline_label(h: dict[str, Any]) -> tuple[str, str]:
    """(which turns the headline is over, a note when they are not the clean ones):
    ("clean turns", ""), ("interrupted turns", "all 4 turns interrupted")."""
    cat = h["category"]
    if cat in (None, "clean"):
        return "clean turns", ""
    word = {"interrupted": "interrupted", "tool": "tool"}[cat]
    if h["n"] == h["of"]:
        return (
            f"{word} turns",
            f"all {h['n']} turns {'interrupted' if cat == 'interrupted' else 'used tools'}",
        )
    return f"{word} turns", "no clean turns"


_TOKEN_COLUMNS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "total": "total_tokens",
    "cached": "cached_tokens",
    "cached_text": "cached_text_tokens",
    "cached_audio": "cached_audio_tokens",
    "input_audio": "input_audio_tokens",
    "input_text": "input_text_tokens",
    "output_audio": "output_audio_tokens",
    "output_text": "output_text_tokens",
}


def _tokens(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    sums = ", ".join(f"coalesce(sum({c}), 0)" for c in _TOKEN_COLUMNS.values())
    row = con.execute(f"SELECT {sums} FROM responses WHERE {_in_scope()}").fetchone()
    assert row is not None
    out: dict[str, Any] = dict(zip(_TOKEN_COLUMNS, (int(v) for v in row), strict=True))
    out["cache_hit_rate"] = out["cached"] / out["input"] if out["input"] else None
    # NULL (unknown) as soon as one billed item has no price: never a partial sum.
    responses_cost = _one(
        con,
        f"""SELECT CASE WHEN count(*) FILTER (WHERE input_tokens IS NOT NULL AND cost_usd IS NULL)
                        > 0 THEN NULL ELSE coalesce(sum(cost_usd), 0) END
            FROM responses WHERE {_in_scope()}""",
    )
    transcription_cost = _one(
        con,
        f"""SELECT CASE WHEN count(*) FILTER (WHERE status = 'completed' AND cost_usd IS NULL)
                        > 0 THEN NULL ELSE coalesce(sum(cost_usd), 0) END
            FROM transcriptions WHERE {_in_scope()}""",
    )
    out["cost_usd_responses"] = responses_cost
    out["cost_usd_transcription"] = transcription_cost
    out["cost_usd"] = (
        None
        if responses_cost is None or transcription_cost is None
        else responses_cost + transcription_cost
    )
    # The known parts, a lower bound when a part is unknown, and which part and why.
    out["cost_usd_known"] = _one(
        con,
        f"""SELECT coalesce(sum(cost_usd), 0) FROM (
                SELECT cost_usd FROM responses WHERE {_in_scope()}
                UNION ALL SELECT cost_usd FROM transcriptions
                WHERE {_in_scope()} AND status = 'completed')""",
    )
    out["cost_unknown"] = _cost_unknown(con)
    growth = con.execute(
        f"""SELECT turn, max(input_tokens) FROM responses
            WHERE {_in_scope()} AND turn IS NOT NULL AND input_tokens > 0
            GROUP BY session_id, turn ORDER BY session_id, turn"""
    ).fetchall()
    out["input_growth"] = [{"turn": t, "input_tokens": n} for t, n in growth[:200]]
    return out


def _cost_unknown(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The billed parts without a cost: {part, model, count, reason}, most frequent first."""
    rows = con.execute(
        f"""SELECT 'model' AS part, model, count(*) FROM responses
            WHERE {_in_scope()} AND input_tokens IS NOT NULL AND cost_usd IS NULL GROUP BY model
            UNION ALL
            SELECT 'transcription', model, count(*) FROM transcriptions
            WHERE {_in_scope()} AND status = 'completed' AND cost_usd IS NULL GROUP BY model
            ORDER BY 3 DESC, 1, 2"""
    ).fetchall()
    out = []
    for part, model, n in rows:
        kind = "realtime" if part == "model" else "transcription"
        if prices_for(kind, model) is None:
            reason = f"no price for model {model}" if model else "model unknown"
        elif part == "model":
            reason = "usage without per-modality token counts"
        else:
            reason = "no usage, and the duration of its audio is not in the recording"
        out.append({"part": part, "model": model, "count": n, "reason": reason})
    return out


# The lowest point of a limit is the lowest headroom (remaining / limit), so sessions with
# different limits compare fairly; for one session with one limit it is the least remaining.
LOWEST = "coalesce(remaining_pct, remaining)"


def _rate_limits(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Per limit name, the session where headroom ran lowest, every figure taken from that
    one session (its limit, its lowest and last remaining, its turn), and how the sessions
    that report the limit spread: a fleet's limits can differ per session (an organisation
    per API key), so a figure mixing two sessions would describe none of them."""
    rows = con.execute(
        f"""SELECT r.name, r.session_id, s.source_file,
                   arg_min(r."limit", {LOWEST}), arg_min(r.remaining, {LOWEST}),
                   last(r.remaining ORDER BY r.ts NULLS FIRST, r.seq), min(r.remaining_pct),
                   arg_min(r.turn, {LOWEST}), arg_min(r.t_ms, {LOWEST}), count(*)
            FROM rate_limits r JOIN sessions s USING (session_id)
            WHERE {_in_scope("r")} AND r.name IS NOT NULL
            GROUP BY r.name, r.session_id, s.source_file
            ORDER BY r.name, min(r.remaining_pct) NULLS LAST, arg_min(r.remaining, {LOWEST}),
                     r.session_id"""
    ).fetchall()
    out: dict[str, Any] = {}
    for name, sid, source, limit, low, last_rem, low_pct, turn, t_ms, samples in rows:
        entry = out.get(name)
        if entry is None:  # the first row of a name is its lowest session (ORDER BY above)
            entry = out[name] = {
                "limit": limit,
                "min_remaining": low,
                "last_remaining": last_rem,
                "min_remaining_pct": low_pct,
                "min_at_turn": turn,
                "min_at_ms": t_ms,
                "samples": 0,
                "session_id": sid,
                "source_file": source,
                "sessions": 0,
                "sessions_under_10pct": 0,
                "limits": [],
                "session_lowest_pct": [],
            }
        entry["samples"] += samples
        entry["sessions"] += 1
        entry["sessions_under_10pct"] += low_pct is not None and low_pct < LOW_HEADROOM_PCT
        if limit is not None and limit not in entry["limits"]:
            entry["limits"].append(limit)
        if low_pct is not None:
            entry["session_lowest_pct"].append(low_pct)
    for entry in out.values():
        entry["limits"].sort()
        entry["session_lowest_pct"] = _spread(entry["session_lowest_pct"])
    return out


def _spread(values: list[float]) -> dict[str, Any]:
    """n, lowest, median (interpolated as quantile_cont does) and highest of `values`."""
    if not values:
        return {"n": 0, "min": None, "p50": None, "max": None}
    ordered = sorted(values)
    n = len(ordered)
    return {
        "n": n,
        "min": ordered[0],
        "p50": (ordered[(n - 1) // 2] + ordered[n // 2]) / 2,
        "max": ordered[-1],
    }


def _input_notices(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What is missing from the input itself: recordings with no close line (the recorder
    still writing, or killed), and files without timestamps (no latency can be measured).
    Files not written by a recorder (bare event logs, imports) never have a close line, so
    only recorder sources count as cut off."""
    cut = con.execute(
        f"""SELECT session_id, source_file,
                   strftime(ended_ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS last_line_ts
            FROM sessions
            WHERE {_in_scope()} AND close_by IS NULL
              AND coalesce(source, 'unknown') NOT IN ('import', 'unknown')
            ORDER BY source_file, session_id"""
    ).fetchall()
    untimed = con.execute(
        f"""SELECT session_id, source_file FROM sessions
            WHERE {_in_scope()} AND n_events > 0 AND started_ts IS NULL
            ORDER BY source_file, session_id"""
    ).fetchall()
    return {
        "cut_off": [
            {"session_id": sid, "source_file": f, "last_line_ts": ts} for sid, f, ts in cut
        ],
        "no_timestamps": [{"session_id": sid, "source_file": f} for sid, f in untimed],
    }


def _interruptions(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    # The audio sums cover only the barge-ins where both what was generated and what was
    # heard are known, so the three figures describe the same cuts (unknown stays unknown).
    known = "audio_generated_ms IS NOT NULL AND audio_played_ms IS NOT NULL"
    row = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE {known}),
                   sum(audio_unheard_ms) FILTER (WHERE {known}),
                   sum(audio_generated_ms) FILTER (WHERE {known}),
                   sum(audio_played_ms) FILTER (WHERE {known}),
                   sum(audio_played_ms) FILTER (WHERE audio_generated_ms IS NULL),
                   count(*) FILTER (WHERE audio_generated_ms = 0),
                   quantile_cont(stop_ms, 0.5),
                   quantile_cont(cancel_after_ms, 0.5), count(cancel_after_ms),
                   quantile_cont(audio_stop_after_ms, 0.5), count(audio_stop_after_ms)
            FROM interruptions WHERE {_in_scope()}"""
    ).fetchone()
    assert row is not None
    minutes = _one(con, f"SELECT sum(duration_ms) / 60000.0 FROM sessions WHERE {_in_scope()}")
    return {
        "count": row[0],
        "audio_known": row[1],
        "audio_unheard_ms": row[2],
        "audio_generated_ms": row[3],
        "audio_played_ms": row[4],
        "audio_played_only_ms": row[5],
        "before_any_audio": row[6],
        "stop_ms_p50": row[7],
        "cancel_after_ms_p50": row[8],
        "cancelled": row[9],
        "audio_stop_after_ms_p50": row[10],
        "audio_stopped": row[11],
        "per_minute": row[0] / minutes if minutes else None,
    }


def _errors(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    rows = con.execute(
        f"""SELECT coalesce(code, type, 'unknown') AS code, count(*),
                   string_agg(DISTINCT client_event_type, ', ' ORDER BY client_event_type),
                   any_value(message)
            FROM errors WHERE {_in_scope()} GROUP BY 1 ORDER BY 2 DESC, 1"""
    ).fetchall()
    return {
        "count": sum(r[1] for r in rows),
        "by_code": {code: n for code, n, _, _ in rows},
        "details": [
            {"code": code, "count": n, "client_event_types": types, "message": message}
            for code, n, types, message in rows
        ],
        "ingest_errors": _one(con, f"SELECT count(*) FROM ingest_errors WHERE {_in_scope()}"),
    }


def _function_calls(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    out = {"count": _one(con, f"SELECT count(*) FROM function_calls WHERE {_in_scope()}")}
    out["tool_ms"] = _dist(con, "tool_ms", "function_calls")
    out["tool_to_audio_ms"] = _dist(con, "tool_to_audio_ms", "function_calls")
    rows = con.execute(
        f"""SELECT name, count(*), median(tool_ms) FROM function_calls
            WHERE {_in_scope()} GROUP BY name ORDER BY 2 DESC, 1"""
    ).fetchall()
    out["by_name"] = [{"name": n, "count": c, "tool_ms_p50": m} for n, c, m in rows]
    return out


def _transcriptions(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    row = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE status = 'failed'),
                   count(*) FILTER (WHERE after_reply)
            FROM transcriptions WHERE {_in_scope()}"""
    ).fetchone()
    assert row is not None
    return {
        "count": row[0],
        "failed": row[1],
        "after_reply": row[2],
        "latency_ms": _dist(con, "latency_ms", "transcriptions"),
    }


def _session_facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    cur = con.execute(
        f"""SELECT session_id, source_file, source, strftime(started_ts, '%Y-%m-%dT%H:%M:%S.%gZ'),
                   duration_ms, model, dialect, transport, voice, turn_detection,
                   vad_threshold, prefix_padding_ms, silence_duration_ms, input_audio_format,
                   output_audio_format, transcription_model, n_events, n_unknown_events,
                   input_audio_ms, output_audio_ms, close_by, close_code, close_reason
            FROM sessions WHERE {_in_scope()}"""
    )
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None
    facts = dict(zip(names, row, strict=True))
    facts["started_ts"] = facts.pop(names[3])
    return facts


def _fleet(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    per_session = _dist(con, "v2v_p50_ms", "session_overview")
    groups = {}
    for key in ("model", "dialect"):
        rows = con.execute(
            f"""WITH sx AS (SELECT session_id, coalesce({key}, 'unknown') AS k, cost_usd
                            FROM sessions WHERE {_in_scope()}),
                     lat AS (SELECT sx.k, count(l.v2v_ms) AS n,
                                    quantile_cont(l.v2v_ms, 0.5) AS p50,
                                    quantile_cont(l.v2v_ms, 0.95) AS p95
                             FROM sx LEFT JOIN turn_latency l
                               ON l.session_id = sx.session_id AND l.category = 'clean'
                             GROUP BY sx.k),
                     cost AS (SELECT k, count(*) AS sessions,
                                     CASE WHEN count(cost_usd) = count(*) THEN sum(cost_usd) END
                                         AS cost
                              FROM sx GROUP BY k)
                SELECT cost.k, cost.sessions, lat.n, lat.p50, lat.p95, cost.cost
                FROM cost JOIN lat USING (k) ORDER BY cost.sessions DESC, cost.k"""
        ).fetchall()
        groups[key] = [
            {
                key: k,
                "sessions": n,
                "turns": t,
                "v2v_p50_ms": p50,
                "v2v_p95_ms": p95,
                "cost_usd": cost,
            }
            for k, n, t, p50, p95, cost in rows
        ]
    worst = {}
    for name, order in (
        ("latency", "v2v_p95_ms DESC NULLS LAST"),
        ("cost", "cost_usd DESC NULLS LAST"),
        ("errors", "n_errors DESC"),
    ):
        # "most errors" lists only sessions that had one: a clean session is not a worst one
        errors_only = " AND n_errors > 0" if name == "errors" else ""
        cur = con.execute(
            f"""SELECT session_id, source_file, model, v2v_p95_ms, cost_usd, n_errors, n_turns
                FROM session_overview WHERE {_in_scope()}{errors_only}
                ORDER BY {order}, session_id LIMIT 5"""
        )
        cols = [d[0] for d in cur.description]
        worst[name] = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    return {
        "per_session_v2v_p50_ms": per_session,
        "by_model": groups["model"],
        "by_dialect": groups["dialect"],
        "worst_sessions": worst,
    }


def warnings(
    con: duckdb.DuckDBPyConnection, summary: dict[str, Any], v2v_threshold_ms: float
) -> list[str]:
    """Sentences a person should act on, most serious first."""
    out = []
    for name, rl in summary["rate_limits"].items():
        pct = rl["min_remaining_pct"]
        if pct is not None and pct < LOW_HEADROOM_PCT:
            at = f" at turn {rl['min_at_turn']}" if rl["min_at_turn"] is not None else ""
            lowest = f"{pct:.1f}% headroom ({rl['min_remaining']:,} of {rl['limit']:,}){at}"
            if summary["sessions"] == 1:
                out.append(f"rate limit '{name}' fell to {lowest}")
            else:
                where = rl["source_file"].replace("\\", "/").rsplit("/", 1)[-1]
                out.append(
                    f"rate limit '{name}' fell under {LOW_HEADROOM_PCT:.0f}% headroom in "
                    f"{rl['sessions_under_10pct']} of {rl['sessions']} sessions; lowest "
                    f"{lowest} in {where}"
                )
    failed = _one(con, f"SELECT count(*) FROM responses WHERE status = 'failed' AND {_in_scope()}")
    if failed:
        out.append(f"{failed} response(s) failed (see errors)")
    p95 = summary["latency"]["by_category"]["clean"]["p95"]
    if p95 is not None and p95 > v2v_threshold_ms:
        out.append(
            f"voice-to-voice p95 is {p95:.0f} ms on clean turns (over {v2v_threshold_ms:.0f} ms)"
        )
    late = summary["transcriptions"]["after_reply"]
    if late:
        out.append(f"{late} user transcript(s) arrived after the reply had started")
    tr_failed = summary["transcriptions"]["failed"]
    if tr_failed:
        out.append(f"{tr_failed} input transcription(s) failed")
    errors = summary["errors"]
    if errors["count"]:
        codes = ", ".join(f"{c} x{n}" for c, n in list(errors["by_code"].items())[:4])
        out.append(f"{errors['count']} error(s): {codes}")
    if errors["ingest_errors"]:
        out.append(f"{errors['ingest_errors']} line(s) could not be read (table ingest_errors)")
    unheard = summary["interruptions"]["audio_unheard_ms"]
    generated = _one(
        con, f"SELECT sum(audio_ms) FROM responses WHERE {_in_scope()} AND audio_ms IS NOT NULL"
    )
    if unheard and generated and unheard / generated > 0.2:
        out.append(
            f"{unheard / generated:.0%} of generated audio was never heard (barge-ins): "
            "consider shorter replies"
        )
    closes = con.execute(
        f"""SELECT close_code, count(*) FROM sessions WHERE {_in_scope()} AND close_by = 'server'
            AND close_code NOT IN (1000, 1001) GROUP BY 1"""
    ).fetchall()
    for code, n in closes:
        out.append(f"{n} session(s) closed by the server with code {code}")
    unfinished = _one(
        con, f"SELECT count(*) FROM responses WHERE status = 'in_progress' AND {_in_scope()}"
    )
    if unfinished:
        out.append(f"{unfinished} response(s) never finished (the recording ended first)")
    return out
