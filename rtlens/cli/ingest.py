"""`rtlens ingest`."""

from __future__ import annotations

import click


@click.command()
def ingest() -> None:
    """(not yet implemented)"""
    raise click.ClickException("ingest is not implemented yet")
