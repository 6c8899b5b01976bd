"""DuckDB's engine, as every rtlens module imports it.

The `duckdb` package (2.x) spends about 100 ms of its import on things rtlens never uses:
looking up its own distribution metadata and loading its pure-Python relation API. The
engine itself is the `_duckdb` extension module, which the package only re-exports, and
which imports in about 20 ms. Ingest's writer imports DuckDB while its workers already
compete for the cores, and every `rtlens report` pays it again, so rtlens imports the
engine directly. Packages up to 1.3 keep the engine inside the package (`duckdb.duckdb`)
and have no `_duckdb`: the package itself is used then. The objects are the same either
way (`duckdb.connect is _duckdb.connect`): a caller's own `import duckdb` mixes freely
with rtlens's.
"""

from __future__ import annotations

try:
    import _duckdb as duckdb
except ImportError:  # pragma: no cover - DuckDB 1.3 and older
    import duckdb  # type: ignore[no-redef]

__all__ = ["duckdb"]
