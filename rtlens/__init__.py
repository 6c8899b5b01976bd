"""rtlens: record, ingest and report on OpenAI Realtime API sessions.

The package is laid out along the data flow:
recording (relay, library hook) -> logfile (the JSONL format) -> ingest (catalogue, schema,
normalizer, store) -> analysis (shared SQL) -> report. The simulator stands in for the API.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
