"""The fleet site: SITE/index.html (a sortable, filterable table of sessions and the fleet
over time) and one session page per session, each the same page `rtlens report FILE --html`
writes. Pages whose recording is unchanged since the last run are not rendered again
(`manifest.py` says how "unchanged" is decided)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from rtlens.analysis import fleet
from rtlens.analysis.summary import set_scope, summarize
from rtlens.report import figures
from rtlens.report.build import Report
from rtlens.report.html import CSS, _png
from rtlens.report.manifest import Manifest, fingerprint
from rtlens.report.text import _dur, _ms, _pct, _usd
from rtlens.store.engine import duckdb

Progress = Callable[[int, int, str, bool], None]  # (done, total, page, rendered)


class SitePathError(ValueError):
    """The site folder cannot be used (it is a file, or cannot be created)."""


@dataclass
class SiteResult:
    """What a run did: pages rendered now, pages kept from an earlier run."""

    index: Path
    rendered: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def page_name(session_id: str) -> str:
    """A stable file name for a session's page: the id itself when it is filename-safe,
    else its safe characters and a short hash (so two ids never share a page)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "", session_id)[:80].lstrip(".")
    if safe != session_id or not safe:
        safe += "-" + hashlib.sha256(session_id.encode()).hexdigest()[:10]
    return f"session-{safe}.html"


def prepare_site_dir(site: Path) -> None:
    """Create the folder; refuse a path that is a file before any work is done."""
    if site.exists() and not site.is_dir():
        raise SitePathError(f"{site}: is a file, not a folder for the site")
    try:
        site.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SitePathError(f"{site}: cannot create the site folder ({exc.strerror})") from exc


def build_site(
    con: duckdb.DuckDBPyConnection,
    site: Path,
    *,
    v2v_threshold_ms: float,
    progress: Progress | None = None,
) -> SiteResult:
    """Write the site for every session in `con` into `site` (see the module docstring)."""
    prepare_site_dir(site)
    set_scope(con, None)
    rows = fleet.session_rows(con)
    unit = fleet.bucket_unit(rows)
    series = fleet.buckets(con, unit)
    manifest = Manifest.load(site)
    result = SiteResult(site / "index.html")
    fresh: dict[str, dict[str, str]] = {}
    try:
        for i, row in enumerate(rows, 1):
            page = page_name(row.session_id)
            print_ = fingerprint(row.source_file)
            rendered = not manifest.is_current(site, row.session_id, page, print_)
            if rendered:
                _write(site / page, _session_page(con, row, v2v_threshold_ms))
                result.rendered.append(page)
            else:
                result.kept.append(page)
            if print_ is not None:
                fresh[row.session_id] = {"page": page, "fingerprint": print_}
            if progress is not None:
                progress(i, len(rows), page, rendered)
    finally:
        # What was rendered stays recorded even if a later page fails: the next run
        # resumes rather than starting over. Pages of sessions gone from the input drop out.
        Manifest({**_still_present(manifest, rows), **fresh}).save(site)
        set_scope(con, None)
    _write(result.index, render_index(rows, series, unit))
    return result


def _still_present(manifest: Manifest, rows: list[fleet.SessionRow]) -> dict[str, dict[str, str]]:
    ids = {r.session_id for r in rows}
    return {k: v for k, v in manifest.pages.items() if k in ids}


def _session_page(con: duckdb.DuckDBPyConnection, row: fleet.SessionRow, threshold: float) -> str:
    """The single-session page, exactly as `rtlens report FILE --html` builds it."""
    set_scope(con, [row.session_id])
    summary = summarize(con, v2v_threshold_ms=threshold)
    report = Report(con, f"rtlens report: {row.source_file}", summary, [], threshold)
    return report.html()


def _write(path: Path, text: str) -> None:
    """Write via a temporary file, so a reader never sees half a page."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


COLUMNS = (
    # (header, sort type): "num" cells sort by their data-v value, "text" by their text
    ("start (UTC)", "text"),
    ("session", "text"),
    ("model", "text"),
    ("duration", "num"),
    ("turns", "num"),
    ("v2v p50 ms", "num"),
    ("v2v p95 ms", "num"),
    ("cost", "num"),
    ("barge-ins", "num"),
    ("errors", "num"),
    ("lowest rate-limit headroom", "num"),
)

INDEX_CSS = """
#sessions th{cursor:pointer;user-select:none}#sessions th[aria-sort=ascending]::after{content:" ▲"}
#sessions th[aria-sort=descending]::after{content:" ▼"}
#filter{font:inherit;padding:4px 8px;width:320px;margin:6px 0}
"""

# Plain inline script, no libraries: sort on a header click (numbers by data-v, blanks last),
# filter rows by a text match over the whole row.
INDEX_JS = """
(function(){
const table=document.getElementById('sessions');
const body=table.tBodies[0];
const heads=Array.from(table.tHead.rows[0].cells);
heads.forEach(function(th,col){th.addEventListener('click',function(){
  const asc=th.getAttribute('aria-sort')!=='ascending';
  heads.forEach(function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',asc?'ascending':'descending');
  const num=th.dataset.type==='num';
  const key=function(tr){const c=tr.cells[col];
    return num?(c.dataset.v===''?null:parseFloat(c.dataset.v)):c.textContent;};
  const rows=Array.from(body.rows);
  rows.sort(function(a,b){const x=key(a),y=key(b);
    if(x===null||y===null){return x===y?0:(x===null?1:-1);}
    const d=num?x-y:x.localeCompare(y);return asc?d:-d;});
  rows.forEach(function(r){body.appendChild(r);});
});});
const filter=document.getElementById('filter');
filter.addEventListener('input',function(){
  const q=filter.value.trim().toLowerCase();let shown=0;
  Array.from(body.rows).forEach(function(r){
    const hit=r.textContent.toLowerCase().indexOf(q)>=0;r.hidden=!hit;if(hit){shown++;}});
  document.getElementById('shown').textContent=String(shown);
});
})();
"""


def render_index(rows: list[fleet.SessionRow], series: list[fleet.Bucket], unit: str) -> str:
    """The index page: the session table and the fleet over time, one offline file."""
    heads = "".join(f'<th data-type="{t}" class="l">{escape(h)}</th>' for h, t in COLUMNS)
    body = "".join(_index_row(r) for r in rows)
    chart = ""
    if series:
        chart = f'<img alt="fleet per {unit}" src="{_png(figures.fleet_over_time(series, unit))}">'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>rtlens fleet</title>"
        f"<style>{CSS}{INDEX_CSS}</style></head><body><main>"
        f"<h1>rtlens fleet: {len(rows)} sessions</h1>"
        f"<h2>Over time (per {unit})</h2>{chart}"
        "<h2>Sessions</h2>"
        '<input id="filter" type="search" placeholder="filter: model, id, date…"'
        ' aria-label="filter sessions">'
        f' <span class="facts"><span id="shown">{len(rows)}</span> shown;'
        " click a header to sort</span>"
        f'<table id="sessions"><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>'
        f"<script>{INDEX_JS}</script></main></body></html>"
    )


def _index_row(r: fleet.SessionRow) -> str:
    def num(value: float | None, shown: str) -> str:
        v = "" if value is None else repr(float(value))
        return f'<td data-v="{v}">{escape(shown)}</td>'

    start = r.started.strftime("%Y-%m-%d %H:%M:%S") if r.started is not None else "—"
    link = f'<a href="{escape(page_name(r.session_id))}">{escape(r.session_id)}</a>'
    return (
        "<tr>"
        f'<td class="l">{start}</td><td class="l">{link}</td>'
        f'<td class="l">{escape(r.model or "unknown")}</td>'
        + num(r.duration_ms, _dur(r.duration_ms))
        + num(r.n_turns, str(r.n_turns))
        + num(r.v2v_p50_ms, _ms(r.v2v_p50_ms))
        + num(r.v2v_p95_ms, _ms(r.v2v_p95_ms))
        + num(r.cost_usd, _usd(r.cost_usd))
        + num(r.n_interruptions, str(r.n_interruptions))
        + num(r.n_errors, str(r.n_errors))
        + num(
            r.min_rate_limit_pct,
            "—" if r.min_rate_limit_pct is None else _pct(r.min_rate_limit_pct),
        )
        + "</tr>"
    )
