"""Views shared by the report, `rtlens query` and the notebooks, so a number means the same
thing everywhere. Each is created in every rtlens database (`CREATE OR REPLACE`)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class View:
    name: str
    doc: str
    sql: str


VIEWS: tuple[View, ...] = (
    View(
        "turn_latency",
        "One row per user turn with its latency numbers and the flags that decide whether it "
        "counts as a clean turn (no tool call, no barge-in either way).",
        """
        SELECT t.session_id, t.turn, t.trigger, s.model, s.dialect, s.transport,
               t.v2v_ms, t.v2v_est_ms, t.turn_gap_ms, t.ttfa_ms,
               t.interrupted, t.reply_interrupted, t.has_tool_call,
               t.transcript_after_reply, t.response_status,
               NOT (t.interrupted OR t.reply_interrupted OR t.has_tool_call) AS clean,
               CASE WHEN t.has_tool_call THEN 'tool'
                    WHEN t.interrupted OR t.reply_interrupted THEN 'interrupted'
                    ELSE 'clean' END AS category
        FROM turns t JOIN sessions s USING (session_id)
        """,
    ),
)


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    for view in VIEWS:
        con.execute(f"CREATE OR REPLACE VIEW {view.name} AS {view.sql}")
