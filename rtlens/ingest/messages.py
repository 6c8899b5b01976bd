"""What ingest's worker processes tell the writer, in order per file: `Begin`; its events
as `EventFile`s (a file of event lines, see `rtlens.eventlines`, of files `first` to `last`:
a recording's lines may span several, and small recordings share one) and `EventTuples`
(a pickled list of the rare events too long for a line); then `Done` or `Failed`. A worker
ends with `Exit`. Events travel in files, so every message is small."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rtlens.ingest.results import SessionTables


@dataclass(frozen=True)
class Begin:
    index: int  # the file's place in the run's input order
    session_id: str


@dataclass(frozen=True)
class EventFile:
    path: Path
    first: int  # the input indexes whose lines it holds
    last: int


@dataclass(frozen=True)
class EventTuples:
    index: int
    path: Path


@dataclass(frozen=True)
class Done:
    index: int
    tables: SessionTables


@dataclass(frozen=True)
class Failed:
    index: int
    reason: str


@dataclass(frozen=True)
class Exit:
    """A worker has nothing more to say."""


Message = Begin | EventFile | EventTuples | Done | Failed | Exit
