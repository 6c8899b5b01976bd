"""The fleet site's numbers: one row per session, and the fleet over time.

Both read the shared views (`session_overview`, `turn_latency`), so each metric keeps the
one definition docs/metrics.md gives it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rtlens.store.engine import duckdb


@dataclass(frozen=True)
class SessionRow:
    """A row of the fleet index (from `session_overview`)."""

    session_id: str
    source_file: str
    started: datetime | None
    model: str | None
    duration_ms: float | None
    n_turns: int
    v2v_p50_ms: float | None
    v2v_p95_ms: float | None
    cost_usd: float | None
    n_interruptions: int
    n_errors: int
    min_rate_limit_pct: float | None


@dataclass(frozen=True)
class Bucket:
    """The fleet during one hour or one day (by session start)."""

    start: datetime
    sessions: int
    v2v_p50_ms: float | None  # over the bucket's clean turns, as the fleet report does
    v2v_p95_ms: float | None
    cost_usd: float | None  # None when a session's cost is unknown (as in summary._fleet)
    errors_per_session: float
    barge_ins_per_minute: float | None  # as session_overview.interruptions_per_minute


def session_rows(con: duckdb.DuckDBPyConnection) -> list[SessionRow]:
    """Every session, oldest first."""
    rows = con.execute(
        """SELECT session_id, source_file, started_ts, model, duration_ms, n_turns,
                  v2v_p50_ms, v2v_p95_ms, cost_usd, n_interruptions, n_errors,
                  min_rate_limit_pct
           FROM session_overview ORDER BY started_ts NULLS LAST, session_id"""
    ).fetchall()
    return [SessionRow(*r) for r in rows]


def bucket_unit(rows: list[SessionRow]) -> str:
    """'hour' for a fleet spanning up to three days, else 'day': enough points either way."""
    starts = [r.started for r in rows if r.started is not None]
    if not starts:
        return "hour"
    return "hour" if (max(starts) - min(starts)).total_seconds() <= 3 * 86400 else "day"


def buckets(con: duckdb.DuckDBPyConnection, unit: str) -> list[Bucket]:
    """The fleet per `unit` ('hour' or 'day') of session start, in order."""
    if unit not in ("hour", "day"):
        raise ValueError(f"unit must be 'hour' or 'day', not {unit!r}")
    rows = con.execute(
        f"""WITH s AS (SELECT session_id, date_trunc('{unit}', started_ts) AS b, cost_usd,
                              n_errors, n_interruptions, duration_ms
                       FROM session_overview WHERE started_ts IS NOT NULL),
                 lat AS (SELECT s.b, quantile_cont(l.v2v_ms, 0.5) AS p50,
                                quantile_cont(l.v2v_ms, 0.95) AS p95
                         FROM s JOIN turn_latency l
                           ON l.session_id = s.session_id AND l.category = 'clean'
                         GROUP BY s.b),
                 agg AS (SELECT b, count(*) AS n,
                                CASE WHEN count(cost_usd) = count(*) THEN sum(cost_usd) END
                                    AS cost,
                                sum(n_errors) / count(*) AS eps,
                                CASE WHEN sum(duration_ms) > 0
                                     THEN sum(n_interruptions) / (sum(duration_ms) / 60000.0)
                                END AS bpm
                         FROM s GROUP BY b)
            SELECT agg.b, agg.n, lat.p50, lat.p95, agg.cost, agg.eps, agg.bpm
            FROM agg LEFT JOIN lat USING (b) ORDER BY agg.b"""
    ).fetchall()
    return [Bucket(*r) for r in rows]
