"""`rtlens record`."""

from __future__ import annotations

import click


@click.command()
def record() -> None:
    """(not yet implemented)"""
    raise click.ClickException("record is not implemented yet")
