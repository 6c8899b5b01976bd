"""Ingest: turn recordings into the rtlens tables (SPEC §3).

Flow: `logfile.reader` yields records -> `normalize` runs one pass per session and fills
every table -> `store` writes them to DuckDB (and Parquet). `pipeline` spreads files over
the machine's cores.
"""

# DuckDB's memory cap while ingest writes: it spills beyond it, keeping memory flat however
# many recordings there are. Events with very long JSON (images, long instructions) need
# more. Here so that the CLI can show it without importing the pipeline.
DEFAULT_MEMORY_LIMIT = "128MB"

# DuckDB takes an event a fifth of its cap long, but not much more (measured at 128MB: 24 MB
# loaded, 28 MB ran out of memory); lines longer than this share of the cap are skipped.
LINE_SHARE_OF_MEMORY = 8
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def max_line_bytes(memory_limit: str) -> int:
    """The longest line ingest reads with DuckDB capped at `memory_limit` (a size such as
    128MB, as DuckDB reads it: MB is 10**6 bytes, MiB 2**20)."""
    text = memory_limit.strip().lower()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz").strip()
    unit = text[len(number) :].strip() or "b"
    try:
        size = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        size = 128 * 10**6  # not a size: DuckDB will say so; meanwhile, the default's
    return int(size) // LINE_SHARE_OF_MEMORY
