"""What normalizing one recording gives the writer: a module of its own, so the writer can
receive it (unpickle it) without importing the normalizer, which only the workers run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EventTuple = tuple[Any, ...]  # an event line as a tuple (for JSON too long for a line)


@dataclass
class SessionTables:
    """The normalized rows of one session, table by table (schema column order).

    `events` rows are made by the database from event lines; only `normalize_file` without
    a sink derives them into `rows["events"]`.
    """

    session_id: str
    source_file: str
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    n_ingest_errors: int = 0
    n_events: int = 0
