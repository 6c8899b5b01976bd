"""`rtlens report`: what happened, in ten seconds."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from rtlens.cli.options import db_option, paths_argument


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
    """
    from rtlens.logfile.reader import InputError
    from rtlens.report.build import NoSessionsError, build

    if not paths and db is None:
        raise click.UsageError("give recordings (files or folders) or --db FILE")
    try:
        result = build(list(paths), db, v2v_threshold_ms=v2v_threshold, html=html_path is not None)
    except NoSessionsError as exc:
        raise click.ClickException(str(exc)) from exc  # ran, found nothing: exit 1
    except InputError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.summary, indent=2, default=str))
    else:
        click.echo(result.text(), nl=False)
    if html_path:
        Path(html_path).write_text(result.html(), encoding="utf-8")
        click.echo(f"HTML report written to {html_path}", err=as_json)
    for problem in result.problems:
        click.echo(
            f"{problem.source_file}: {problem.count} line(s) could not be read ({problem.first})",
            err=True,
        )
    if result.problems:
        sys.exit(1)
