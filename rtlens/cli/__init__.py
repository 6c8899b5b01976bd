"""The `rtlens` command line: thin click commands over the library.

Each command parses its options, calls one library function and prints. Nothing imports
this package; heavy imports happen inside the commands so `rtlens --help` stays instant.
"""

from __future__ import annotations

import contextlib
import os
import sys

import click

from rtlens.cli.attach import attach
from rtlens.cli.audio import audio
from rtlens.cli.capture_js import capture_js
from rtlens.cli.export import export
from rtlens.cli.ingest import ingest
from rtlens.cli.query import query
from rtlens.cli.record import record
from rtlens.cli.replay import replay
from rtlens.cli.report import report
from rtlens.cli.simulate import simulate
from rtlens.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="rtlens")
def main() -> None:
    """Understand OpenAI Realtime API sessions: record them, load them into DuckDB, report.

    \b
    Typical flow:
      rtlens record --out recordings/          # relay; point your app at ws://127.0.0.1:8765
      rtlens report recordings/                # what happened, in ten seconds
      rtlens ingest recordings/ --db rt.duckdb # tables for SQL
      rtlens query "select * from turn_latency" --db rt.duckdb

    Try it offline: `rtlens simulate` stands in for the API.
    """


for command in (record, attach, capture_js, simulate, replay, ingest, report, query, audio, export):
    main.add_command(command)


def run() -> None:
    """The `rtlens` program: `main`, then an immediate exit.

    When a command returns, its files are closed and its output is written; all that is
    left is the interpreter's teardown (freeing every object, unloading DuckDB), some 30 ms
    that a person would wait for after every command. So the process ends at once, with
    the command's exit status. Tests call `main` instead.
    """
    try:
        main.main(prog_name="rtlens")
        status = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            status = exc.code or 0
        else:  # a message instead of a status, as sys.exit("...") would print it
            print(exc.code, file=sys.stderr)
            status = 1
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`rtlens query ... | head`) is not an error: nobody is reading.
        with contextlib.suppress(OSError):
            stream.flush()
    os._exit(status)
