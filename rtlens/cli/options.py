"""Option sets shared by several commands (as decorators, like sqlite-utils)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

F = Callable[..., Any]


def db_option(*, default: str | None, help_text: str) -> Callable[[F], F]:
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def paths_argument(required: bool = True) -> Callable[[F], F]:
    return click.argument("paths", nargs=-1, required=required, type=click.Path())
