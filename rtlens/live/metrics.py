"""The metric definitions, and how a session's normalized rows update them: a whole
session's at once (`observe`), or a live one's as they become final (`publish`, from
`rtlens.live.feed`).

Every figure comes from a column the normalizer computed (see docs/schema.md): nothing is
measured a second way here. Labels are bounded: model, dialect, and a small fixed set per
metric (kind, status, code, limit name); never a session id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from rtlens.ingest.results import SessionTables
from rtlens.live.progress import Batch, row_dicts

# Seconds. Voice to voice is typically 0.5-2 s; time to first audio a few hundred ms.
V2V_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0)
TTFA_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
BASE = ("model", "dialect")
# (label value, responses column) for rtlens_tokens_total{kind=...}
TOKEN_KINDS = (
    ("input_text", "input_text_tokens"),
    ("input_audio", "input_audio_tokens"),
    ("input_cached", "cached_tokens"),
    ("output_text", "output_text_tokens"),
    ("output_audio", "output_audio_tokens"),
)


@dataclass(frozen=True)
class SessionLabels:
    model: str
    dialect: str


def turn_kind(turn: dict[str, Any]) -> str | None:
    """The turn's latency category, as the `turn_latency` view defines it (tests check they
    agree): None for typed turns, which have no voice-to-voice figure."""
    if turn["trigger"] == "text":
        return None
    if turn["has_tool_call"]:
        return "tool"
    if turn["interrupted"] or turn["reply_interrupted"]:
        return "barge-in"
    return "clean"


def _rows(tables: SessionTables, name: str) -> list[dict[str, Any]]:
    return row_dicts(name, tables.rows.get(name, []))


class RelayMetrics:
    """The relay's metrics, in their own registry (never the process-global one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = reg = registry or CollectorRegistry()
        self.sessions = Counter(
            "rtlens_sessions", "Recorded sessions normalized", BASE, registry=reg
        )
        self.turns = Counter("rtlens_turns", "User turns", BASE, registry=reg)
        self.v2v = Histogram(
            "rtlens_v2v_seconds",
            "Voice to voice: end of the user's turn to the reply's first audio (turns.v2v_ms)",
            (*BASE, "kind"),
            buckets=V2V_BUCKETS,
            registry=reg,
        )
        self.ttfa = Histogram(
            "rtlens_ttfa_seconds",
            "Time to first audio: response.created to its first audio (turns.ttfa_ms)",
            (*BASE, "kind"),
            buckets=TTFA_BUCKETS,
            registry=reg,
        )
        self.responses = Counter(
            "rtlens_responses", "Responses by final status", (*BASE, "status"), registry=reg
        )
        self.tokens = Counter(
            "rtlens_tokens",
            "Tokens by kind (input_cached is part of input)",
            (*BASE, "kind"),
            registry=reg,
        )
        self.cost = Counter(
            "rtlens_cost_usd", "Cost in USD of sessions whose cost is known", BASE, registry=reg
        )
        self.barge_ins = Counter(
            "rtlens_barge_ins", "Barge-ins (interruptions)", BASE, registry=reg
        )
        self.unheard = Counter(
            "rtlens_unheard_audio_seconds",
            "Audio generated but never heard, over barge-ins",
            BASE,
            registry=reg,
        )
        self.errors = Counter(
            "rtlens_errors", "Error events by code", (*BASE, "code"), registry=reg
        )
        self.rate_remaining = Gauge(
            "rtlens_rate_limit_remaining",
            "Last rate_limits.updated remaining, by limit name",
            (*BASE, "limit"),
            registry=reg,
        )
        self.rate_headroom = Gauge(
            "rtlens_rate_limit_headroom_ratio",
            "Last rate_limits.updated remaining / limit, by limit name",
            (*BASE, "limit"),
            registry=reg,
        )

    def observe(self, tables: SessionTables) -> None:
        """Add one whole normalized session to the metrics."""
        sessions = _rows(tables, "sessions")
        if not sessions:
            return  # not a session (an empty file): nothing to count
        base = labels_of(sessions[0])
        rows = {name: _rows(tables, name) for name in ROW_TABLES}
        self.observe_rows(base, rows)
        self.set_rate_limits(base, rows["rate_limits"])
        self.observe_session(base, sessions[0])

    def publish(self, batch: Batch) -> None:
        """Add the rows of a live session that became final (`rtlens.live.feed`); at its
        close, the session itself, its cost and its last rate-limit samples."""
        base = labels_of(batch.session)
        self.observe_rows(base, batch.new)
        if batch.final:
            self.set_rate_limits(base, batch.tables["rate_limits"])
            self.observe_session(base, batch.session)
        else:
            self.set_rate_limits(base, batch.new["rate_limits"])

    def close(self) -> None:
        """(Nothing to flush: a scrape reads the registry.)"""

    def observe_rows(self, base: tuple[str, str], rows: dict[str, list[dict[str, Any]]]) -> None:
        """Count rows of one session (all of them, or the part the live relay has settled):
        its turns, responses, interruptions and errors."""
        turns = rows.get("turns", [])
        if turns:
            self.turns.labels(*base).inc(len(turns))
        for t in turns:
            kind = turn_kind(t)
            if kind is None:
                continue
            if t["v2v_ms"] is not None:
                self.v2v.labels(*base, kind).observe(t["v2v_ms"] / 1000)
            if t["ttfa_ms"] is not None:
                self.ttfa.labels(*base, kind).observe(t["ttfa_ms"] / 1000)
        for r in rows.get("responses", []):
            self.responses.labels(*base, r["status"] or "unknown").inc()
            for kind, column in TOKEN_KINDS:
                if r[column]:
                    self.tokens.labels(*base, kind).inc(r[column])
        interruptions = rows.get("interruptions", [])
        if interruptions:
            self.barge_ins.labels(*base).inc(len(interruptions))
            unheard = sum(i["audio_unheard_ms"] or 0.0 for i in interruptions)
            self.unheard.labels(*base).inc(unheard / 1000)
        for e in rows.get("errors", []):
            self.errors.labels(*base, e["code"] or "none").inc()

    def set_rate_limits(self, base: tuple[str, str], samples: list[dict[str, Any]]) -> None:
        """The gauges from the last of these `rate_limits` rows of each limit name."""
        last: dict[str, dict[str, Any]] = {}
        for rl in samples:
            if rl["name"] is not None:
                last[rl["name"]] = rl  # rows are in wire order: the last one wins
        for name, rl in last.items():
            if rl["remaining"] is not None:
                self.rate_remaining.labels(*base, name).set(rl["remaining"])
                if rl["limit"]:
                    self.rate_headroom.labels(*base, name).set(rl["remaining"] / rl["limit"])

    def observe_session(self, base: tuple[str, str], session: dict[str, Any]) -> None:
        """Count a session that ended (its `sessions` row), with its cost."""
        self.sessions.labels(*base).inc()
        if session["cost_usd"] is not None:
            self.cost.labels(*base).inc(session["cost_usd"])


def labels_of(session: dict[str, Any]) -> tuple[str, str]:
    """The (model, dialect) labels of a session's metrics, from its `sessions` row."""
    lab = SessionLabels(session["model"] or "unknown", session["dialect"] or "unknown")
    return (lab.model, lab.dialect)


ROW_TABLES = ("turns", "responses", "interruptions", "errors", "rate_limits")
