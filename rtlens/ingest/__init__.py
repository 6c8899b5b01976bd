"""Ingest: turn recordings into the rtlens tables (SPEC §3).

Flow: `logfile.reader` yields records -> `normalize` runs one pass per session and fills
every table -> `store` writes them to DuckDB (and Parquet). `pipeline` spreads files over
the machine's cores.
"""

# DuckDB's memory cap while ingest writes: it spills beyond it, keeping memory flat however
# many recordings there are. Events with very long JSON (images, long instructions) need
# more. Here so that the CLI can show it without importing the pipeline.
DEFAULT_MEMORY_LIMIT = "128MB"
