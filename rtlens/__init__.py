"""rtlens: record, ingest and report on OpenAI Realtime API sessions.

The package is laid out along the data flow:
recording (relay, library hook) -> logfile (the JSONL format) -> ingest (catalogue, schema,
normalizer) -> store (DuckDB, views, Parquet) -> analysis -> report. The simulator stands in
for the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typed names for checkers; at run time they load on first use (below)
    from rtlens.api import Event, connect, events, format_table, load, report, write_wav
    from rtlens.audio.model import NoAudioError
    from rtlens.errors import InputError

from rtlens.version import __version__

# The public API (docs/api.md); everything else is internal and may change.
_API = ("connect", "load", "report", "events", "write_wav", "format_table", "Event")
_ERRORS = {"InputError": "rtlens.errors", "NoAudioError": "rtlens.audio.model"}

__all__ = [
    "Event",
    "InputError",
    "NoAudioError",
    "__version__",
    "connect",
    "events",
    "format_table",
    "load",
    "record",
    "report",
    "write_wav",
]


def __getattr__(name: str) -> object:
    # Imported on first use so `import rtlens` stays light (no DuckDB, numpy or websockets).
    if name == "record":
        from rtlens.recording import record

        return record
    if name == "report":  # the package shares the name; it is callable (see its docstring)
        import rtlens.report

        return rtlens.report
    if name in _API:
        from rtlens import api

        return getattr(api, name)
    if name in _ERRORS:
        import importlib

        return getattr(importlib.import_module(_ERRORS[name]), name)
    raise AttributeError(f"module 'rtlens' has no attribute {name!r}")
