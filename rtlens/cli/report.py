"""`rtlens report`."""

from __future__ import annotations

import click


@click.command()
def report() -> None:
    """(not yet implemented)"""
    raise click.ClickException("report is not implemented yet")
