"""`rtlens query`."""

from __future__ import annotations

import click


@click.command()
def query() -> None:
    """(not yet implemented)"""
    raise click.ClickException("query is not implemented yet")
