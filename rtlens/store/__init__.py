"""The store: the DuckDB database (tables from `rtlens.schema`, shared views) and Parquet."""

from rtlens.store.db import DEFAULT_DB, connect

__all__ = ["DEFAULT_DB", "connect"]
