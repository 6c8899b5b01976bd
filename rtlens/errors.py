"""The errors and problem reports every stage shares, in one place: the reader raises
`InputError`, ingest's processes raise `WorkerError` and `WriterError`, and a file's unusable
lines come back as a `FileProblem`; the CLI, the report and the API all catch and print them.
"""

from __future__ import annotations

from dataclasses import dataclass


class InputError(Exception):
    """The input cannot be read at all (missing, unreadable, not a recording)."""


class WorkerError(RuntimeError):
    """An ingest worker process died: the run cannot know what it had not reported."""


class WriterError(RuntimeError):
    """The database could not take what a worker handed over: the whole run stops (it is
    not the recording's fault, so it must not be reported as a problem of the file)."""


@dataclass
class FileProblem:
    """A file whose lines (some or all) landed in `ingest_errors`: how many, and the first."""

    source_file: str
    count: int
    first: str  # "line N: what"
