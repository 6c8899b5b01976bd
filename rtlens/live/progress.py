"""Which rows of a live session are new to publish: those of the turns settled since the
last look (`rtlens.ingest.live`), errors and rate-limit samples as they come, and at the
close everything not published yet. Each row is published once, under its own key."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from rtlens.ingest.results import SessionTables
from rtlens.schema import TABLES

log = logging.getLogger(__name__)

Row = dict[str, Any]

# table -> the columns that identify a row of one session
KEYS: dict[str, tuple[str, ...]] = {
    "turns": ("turn",),
    "responses": ("response_id", "created_ms"),
    "interruptions": ("response_id", "item_id", "reason", "speech_started_ms"),
    "function_calls": ("call_id", "response_id"),
    "transcriptions": ("item_id",),
    "errors": ("seq",),
    "rate_limits": ("seq", "name"),
}
# rows that belong to a turn (its `turn` column) wait for it to settle; the others are
# final when they appear (an error event, a rate-limit sample)
BY_TURN = ("turns", "responses", "interruptions", "function_calls", "transcriptions")


@dataclass
class Batch:
    """What to publish now: `new` rows by table, with the session's row and all its rows
    so far (`tables`, for the span tree's parents)."""

    session: Row
    tables: dict[str, list[Row]]
    new: dict[str, list[Row]]
    final: bool

    def empty(self) -> bool:
        return not self.final and not any(self.new.values())


@dataclass
class Progress:
    """The rows of one session published so far."""

    source_file: str
    published: dict[tuple[str, tuple[Any, ...]], Row] = field(default_factory=dict)
    labels: tuple[Any, Any] | None = None  # (model, dialect) when the first rows went out
    revised: int = 0  # published rows the finished session changed (see docs)

    def take(self, tables: SessionTables, settled: int, final: bool) -> Batch | None:
        """The rows to publish, given that turns 1..`settled` are settled (`final`: the
        session is closed, so every row is). None: nothing is a session yet."""
        sessions = row_dicts("sessions", tables.rows.get("sessions", []))
        if not sessions:
            return None
        session = sessions[0]
        everything = {name: row_dicts(name, tables.rows.get(name, [])) for name in KEYS}
        new: dict[str, list[Row]] = {}
        for name, rows in everything.items():
            out = []
            for row in rows:
                key = (name, tuple(row[c] for c in KEYS[name]))
                before = self.published.get(key)
                if before is not None:
                    if final and before != row:
                        self._revised(name, key, before, row)
                    continue
                if not final and name in BY_TURN and not _settled(row["turn"], settled):
                    continue
                self.published[key] = row
                out.append(row)
            new[name] = out
        labels = (session["model"], session["dialect"])
        if self.labels is None and any(new.values()):
            self.labels = labels
        elif final and self.labels is not None and self.labels != labels:
            self.revised += 1
            log.warning(
                "%s: the session's labels changed to %s after publishing", self.source_file, labels
            )
        return Batch(session, everything, new, final)

    def _revised(self, name: str, key: Any, before: Row, after: Row) -> None:
        self.revised += 1
        changed = sorted(k for k in after if before.get(k) != after[k])
        log.warning(
            "%s: %s row %s changed after it was published live (%s)",
            self.source_file,
            name,
            key[1],
            ", ".join(changed),
        )


def row_dicts(name: str, rows: list[tuple[Any, ...]]) -> list[Row]:
    """A table's rows as dicts by column name, with the values the database would hold:
    a DOUBLE column's integer as a float (an OTLP attribute keeps the difference)."""
    cols = TABLES[name].column_names
    doubles = [i for i, c in enumerate(TABLES[name].columns) if c.type == "DOUBLE"]
    out = []
    for row in rows:
        values = list(row)
        for i in doubles:
            v = values[i]
            if type(v) is int:
                values[i] = float(v)
        out.append(dict(zip(cols, values, strict=True)))
    return out


def _settled(turn: int | None, settled: int) -> bool:
    """Rows of no turn wait for the close; turns are numbered from 1."""
    return turn is not None and 1 <= turn <= settled
