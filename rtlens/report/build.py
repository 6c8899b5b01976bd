"""Assemble a report: open the data in scope, compute the summary, render it."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtlens.analysis import detail
from rtlens.analysis.load import ingest_in_memory, open_database, sessions_for_files
from rtlens.analysis.summary import DEFAULT_V2V_THRESHOLD_MS, set_scope, summarize
from rtlens.errors import FileProblem, InputError
from rtlens.store.engine import duckdb


class NoSessionsError(InputError):
    """The inputs were readable but held no session (e.g. empty files)."""


@dataclass
class Report:
    con: duckdb.DuckDBPyConnection
    title: str
    summary: dict[str, Any]
    problems: list[FileProblem] = field(default_factory=list)
    v2v_threshold_ms: float | None = None  # drawn on the HTML report's latency figures

    def text(self) -> str:
        from rtlens.report.text import render

        turns = detail.turn_rows(self.con) if self.summary["sessions"] == 1 else []
        return render(self.summary, turns, self.title)

    def html(self) -> str:
        from rtlens.report.html import render_html

        return render_html(self)


def build(
    paths: list[str | Path],
    db: str | Path | None = None,
    *,
    v2v_threshold_ms: float = DEFAULT_V2V_THRESHOLD_MS,
    html: bool = False,
) -> Report:
    """The report for recordings (ingested in memory) or for a database (all, or `paths`).

    With `html` (an HTML page will be asked for), the plotting code starts loading in the
    background at once: importing matplotlib takes about half a second, which otherwise
    comes after the ingest and the queries instead of beside them."""
    problems: list[FileProblem] = []
    preload = _preload_html if html else None
    if db is None:
        if not paths:
            raise InputError("give recordings (files or folders) or --db")
        con, result = ingest_in_memory(paths, after_fork=preload)
        problems = result.problems
        n = set_scope(con, None)
        title = f"rtlens report: {_describe(paths)}"
    else:
        if preload is not None:
            preload()
        con = open_database(db)
        n = set_scope(con, sessions_for_files(con, paths) if paths else None)
        title = f"rtlens report: {db}" + (f" ({_describe(paths)})" if paths else "")
    if n == 0:
        reasons = "; ".join(_reason(p) for p in problems[:3])
        raise NoSessionsError("no sessions to report" + (f" ({reasons})" if reasons else ""))
    summary = summarize(con, v2v_threshold_ms=v2v_threshold_ms)
    return Report(con, title, summary, problems, v2v_threshold_ms=v2v_threshold_ms)


def _reason(problem: FileProblem) -> str:
    """The file's name and its first problem, once (a reader's message may name it already)."""
    name = Path(problem.source_file).name
    said = problem.first.split(": ", 1)[0]
    return problem.first if Path(said).name == name else f"{name}: {problem.first}"


def as_json_data(summary: dict[str, Any]) -> dict[str, Any]:
    """The report as JSON data: what `rtlens report --json` prints and `rtlens.report()`
    returns (values JSON has no type for, such as times, become their text)."""
    data: dict[str, Any] = json.loads(json.dumps(summary, default=str))
    return data


def _preload_html() -> None:
    """Import the HTML renderer (and matplotlib) on a background thread; `Report.html`'s own
    import then finds it loaded, or waits for it. A failure here is left for that import to
    report. Never call this before ingest has forked its workers: a process forked while
    another thread is importing can deadlock on the import lock."""

    def load() -> None:
        with contextlib.suppress(Exception):
            import rtlens.report.html  # noqa: F401

    threading.Thread(target=load, name="rtlens-preload-html", daemon=True).start()


def _describe(paths: list[str | Path]) -> str:
    names = [str(p) for p in paths]
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
