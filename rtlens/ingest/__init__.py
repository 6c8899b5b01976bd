"""Ingest: turn recordings into the rtlens tables (SPEC §3).

Flow: `logfile.reader` yields records -> `normalize` runs one pass per session and fills
every table -> `store` writes them to DuckDB (and Parquet). `pipeline` spreads files over
the machine's cores.
"""
