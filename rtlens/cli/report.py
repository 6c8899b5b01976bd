"""`rtlens report`: what happened, in ten seconds."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rtlens.cli.options import db_option, paths_argument

if TYPE_CHECKING:
    from rtlens.report.build import Report


def _check_html_path(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Refuse an --html file that cannot be written before the report is built, not after."""
    if value is None:
        return None
    folder = Path(value).parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"folder {str(folder)!r} is not writable")
    return value


@click.command(short_help="Summarize one session or many: text, JSON or HTML.")
@paths_argument(required=False)
@db_option(default=None, help_text="Report on this database (all sessions, or those of PATHS).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    callback=_check_html_path,
    help="Also write a self-contained HTML page with plots to this file; for one session it "
    "also plays the call and shows each turn's words and events (docs/session_page.md).",
)
@click.option(
    "--html-dir",
    "site_dir",
    type=click.Path(file_okay=True, dir_okay=True),
    help="Write a fleet site here: index.html and one page per session (re-runs render "
    "only new or changed sessions).",
)
@click.option(
    "--v2v-threshold",
    type=float,
    default=1200.0,
    show_default=True,
    help="Warn when clean-turn voice-to-voice p95 exceeds this many ms.",
)
def report(
    paths: tuple[str, ...],
    db: str | None,
    as_json: bool,
    html_path: str | None,
    site_dir: str | None,
    v2v_threshold: float,
) -> None:
    """Summarize one session, or many (folders, several files, or --db).

    Latency per turn, tokens and cost, rate-limit headroom, interruptions, errors and tool
    calls, with warnings worth acting on. Recordings are ingested in memory unless --db
    is given.

    \b
    Examples:
      rtlens report sample_logs/ga_voice_conversation.jsonl
      rtlens report recordings/ --html report.html
      rtlens report recordings/2026…_abc.jsonl --html call.html
      rtlens report --db rt.duckdb --json
      rtlens report recordings/ --html-dir site/   # then open site/index.html
    """
    from rtlens.errors import InputError
    from rtlens.report.build import NoSessionsError, as_json_data, build

    if not paths and db is None:
        raise click.UsageError("give recordings (files or folders) or --db FILE")
    if site_dir is not None:
        _check_site_dir(Path(site_dir))
    try:
        result = build(
            list(paths),
            db,
            v2v_threshold_ms=v2v_threshold,
            html=html_path is not None or site_dir is not None,
        )
    except NoSessionsError as exc:
        raise click.ClickException(str(exc)) from exc  # ran, found nothing: exit 1
    except InputError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(as_json_data(result.summary), indent=2))
    else:
        click.echo(result.text(), nl=False)
    if html_path:
        Path(html_path).write_text(result.html(), encoding="utf-8")
        click.echo(f"HTML report written to {html_path}", err=as_json)
    if site_dir is not None:
        _write_site(result, Path(site_dir), v2v_threshold)
    for problem in result.problems:
        click.echo(
            f"{problem.source_file}: {problem.count} line(s) could not be read ({problem.first})",
            err=True,
        )
    if result.problems:
        sys.exit(1)


def _check_site_dir(site: Path) -> None:
    """A site folder that is a file is one line and exit 2, before any ingest."""
    from rtlens.report.site import SitePathError, prepare_site_dir

    try:
        prepare_site_dir(site)
    except SitePathError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


def _write_site(result: Report, site: Path, v2v_threshold: float) -> None:
    from rtlens.report.site import build_site

    def progress(done: int, total: int, page: str, rendered: bool) -> None:
        # A line per rendered page, and one every 100 kept ones: a big fleet shows it moves.
        if rendered or done % 100 == 0 or done == total:
            verb = "rendered" if rendered else "unchanged"
            click.echo(f"[{done}/{total}] {verb} {page}", err=True)

    out = build_site(result.con, site, v2v_threshold_ms=v2v_threshold, progress=progress)
    click.echo(
        f"Site written to {out.index} ({len(out.rendered)} page(s) rendered, "
        f"{len(out.kept)} unchanged)",
        err=True,
    )
