"""rtlens: record, ingest and report on OpenAI Realtime API sessions.

The package is laid out along the data flow:
recording (relay, library hook) -> logfile (the JSONL format) -> ingest (catalogue, schema,
normalizer) -> store (DuckDB, views, Parquet) -> analysis -> report. The simulator stands in
for the API.
"""

from __future__ import annotations

from rtlens.version import __version__

__all__ = ["__version__", "record"]


def __getattr__(name: str) -> object:
    # `rtlens.record(...)`: imported on first use so `import rtlens` stays light.
    if name == "record":
        from rtlens.recording import record

        return record
    raise AttributeError(f"module 'rtlens' has no attribute {name!r}")
