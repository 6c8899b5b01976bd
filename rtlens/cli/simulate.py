"""`rtlens simulate`."""

from __future__ import annotations

import click


@click.command()
def simulate() -> None:
    """(not yet implemented)"""
    raise click.ClickException("simulate is not implemented yet")
