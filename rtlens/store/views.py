"""Views shared by the report, `rtlens query` and the notebooks, so a number means the same
thing everywhere. Each is created in every rtlens database (`CREATE OR REPLACE`), and
documented in docs/schema.md (generated).

The SQL is written once for DuckDB and Spark SQL alike (`rtlens query --engine spark` runs
it over the Parquet tables): standard joins, windows and scalar subqueries only; the one
function the two spell differently, the interpolated quantile, is written `{quantile}` and
filled in per engine by `sql_for`."""

from __future__ import annotations

from dataclasses import dataclass

from rtlens.schema import sql_string
from rtlens.store.engine import duckdb

# What `{quantile}` becomes: both interpolate linearly between the closest ranks.
QUANTILE = {"duckdb": "quantile_cont", "spark": "percentile"}


@dataclass(frozen=True)
class View:
    name: str
    doc: str
    template: str  # the SQL, with `{quantile}` for the engine's quantile function

    def sql_for(self, engine: str) -> str:
        return self.template.replace("{quantile}", QUANTILE[engine])

    @property
    def sql(self) -> str:
        """The DuckDB SQL (what the database's views are, and docs/schema.md shows)."""
        return self.sql_for("duckdb")


VIEWS: tuple[View, ...] = (
    View(
        "turn_latency",
        "One row per user turn with its latency numbers and a `category`: `text` (a typed "
        "turn: no voice, so no `v2v_ms`; its latency is `text_to_reply_ms`), `tool` (the "
        "reply went through a function call), `interrupted` (the turn barged in, or its reply "
        "was cut), else `clean`. Report percentiles are taken per category from this view.",
        """
        SELECT t.session_id, t.turn, t.trigger, s.model, s.dialect, s.transport,
               t.v2v_ms, t.v2v_est_ms, t.text_to_reply_ms, t.turn_gap_ms, t.ttfa_ms,
               r.duration_ms AS response_ms, tr.latency_ms AS transcription_ms,
               t.interrupted, t.reply_interrupted, t.has_tool_call,
               t.transcript_after_reply, t.response_status, t.first_audio_ms,
               t.speech_started_ms, t.speech_stopped_ms, t.committed_ms,
               CASE WHEN t.trigger = 'text' THEN 'text'
                    WHEN t.has_tool_call THEN 'tool'
                    WHEN t.interrupted OR t.reply_interrupted THEN 'interrupted'
                    ELSE 'clean' END AS category
        FROM turns t
        JOIN sessions s USING (session_id)
        LEFT JOIN responses r ON r.session_id = t.session_id AND r.response_id = t.response_id
        LEFT JOIN transcriptions tr ON tr.session_id = t.session_id AND tr.item_id = t.item_id
        """,
    ),
    View(
        "response_costs",
        "Responses in order with their token split, cost, and running totals per session "
        "(input tokens grow turn by turn as the conversation grows).",
        """
        SELECT r.session_id, r.response_id, r.turn, r.status, r.out_of_band, r.created_ms,
               r.input_tokens, r.output_tokens, r.cached_tokens,
               r.input_text_tokens - coalesce(r.cached_text_tokens, 0) AS fresh_input_text_tokens,
               r.input_audio_tokens - coalesce(r.cached_audio_tokens, 0)
                   AS fresh_input_audio_tokens,
               r.cached_text_tokens, r.cached_audio_tokens,
               r.output_text_tokens, r.output_audio_tokens, r.cost_usd,
               sum(r.cost_usd) OVER w AS cumulative_cost_usd,
               sum(r.total_tokens) OVER w AS cumulative_tokens
        FROM responses r
        WINDOW w AS (PARTITION BY r.session_id ORDER BY r.created_ms NULLS LAST, r.response_id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        """,
    ),
    View(
        "rate_limit_headroom",
        "Every rate-limit sample with whether it is under 10% of the limit, and the lowest "
        "point per session and limit name (`is_session_min`).",
        """
        SELECT rl.*, rl.remaining_pct < 10 AS low,
               rl.remaining = min(rl.remaining) OVER (PARTITION BY rl.session_id, rl.name)
                   AS is_session_min
        FROM rate_limits rl
        """,
    ),
    View(
        "session_overview",
        "One row per session: its facts, clean-turn latency, cost, interruptions per minute, "
        "errors. The fleet report ranks sessions from here.",
        """
        SELECT s.session_id, s.source_file, s.started_ts, s.duration_ms, s.model, s.dialect,
               s.transport, s.n_turns, s.n_responses, s.n_interruptions, s.n_errors,
               s.total_tokens, s.cost_usd,
               (SELECT {quantile}(l.v2v_ms, 0.5) FROM turn_latency l
                 WHERE l.session_id = s.session_id AND l.category = 'clean') AS v2v_p50_ms,
               (SELECT {quantile}(l.v2v_ms, 0.95) FROM turn_latency l
                 WHERE l.session_id = s.session_id AND l.category = 'clean') AS v2v_p95_ms,
               CASE WHEN s.duration_ms > 0
                    THEN s.n_interruptions / (s.duration_ms / 60000.0) END
                   AS interruptions_per_minute,
               (SELECT min(rl.remaining_pct) FROM rate_limits rl
                 WHERE rl.session_id = s.session_id) AS min_rate_limit_pct
        FROM sessions s
        """,
    ),
)


def view_statements(*, temporary: bool = False) -> list[str]:
    """SQL creating (or refreshing) the views, with their docs as comments (a temporary
    view, for a read-only database, takes no comment)."""
    if temporary:
        return [f"CREATE OR REPLACE TEMP VIEW {v.name} AS {v.sql}" for v in VIEWS]
    statements = []
    for view in VIEWS:
        statements.append(f"CREATE OR REPLACE VIEW {view.name} AS {view.sql}")
        statements.append(f"COMMENT ON VIEW {view.name} IS {sql_string(view.doc)}")
    return statements


def create_views(con: duckdb.DuckDBPyConnection, *, temporary: bool = False) -> None:
    """Create (or refresh) the views; `temporary` works on a read-only database."""
    for statement in view_statements(temporary=temporary):
        con.execute(statement)
