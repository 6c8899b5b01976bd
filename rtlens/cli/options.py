"""Option sets shared by several commands (as decorators, like sqlite-utils)."""

from __future__ import annotations

import re
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


_MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def check_memory_size(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """A size DuckDB understands, such as 512MB or 2GB."""
    if not _MEMORY_SIZE.fullmatch(value.strip()):
        raise click.BadParameter(f"{value!r} is not a size such as 512MB or 2GB")
    return value.strip()


def engine_options(what: str) -> Callable[[F], F]:
    """`--engine duckdb|spark` and `--master URL` (Spark's master; local[*] by default)."""

    def decorate(f: F) -> F:
        f = click.option(
            "--master",
            default=None,
            metavar="URL",
            help="Spark master with --engine spark: local[N], spark://host:7077, yarn, k8s://… "
            "(default local[*]: every core here).",
        )(f)
        return click.option(
            "--engine",
            type=click.Choice(["duckdb", "spark"]),
            default="duckdb",
            show_default=True,
            help=f"{what} (spark: pip install 'rtlens[spark]', Java 17+; see docs/spark.md).",
        )(f)

    return decorate


def _headers(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not K=V (e.g. x-honeycomb-team=KEY)")
        out[key.strip()] = val
    return out


def otlp_options(prefix: str, *, protocol_help: str, header_help: str) -> Callable[[F], F]:
    """`--{prefix}protocol http/protobuf|grpc` and `--{prefix}header K=V` (repeatable, parsed
    into a dict), as `rtlens export otel` and `rtlens record --otlp` take them."""

    def decorate(f: F) -> F:
        f = click.option(
            f"--{prefix}header",
            f"{prefix.replace('-', '_')}headers",
            multiple=True,
            metavar="K=V",
            callback=_headers,
            help=header_help,
        )(f)
        return click.option(
            f"--{prefix}protocol",
            type=click.Choice(["http/protobuf", "grpc"]),
            default="http/protobuf",
            show_default=True,
            help=protocol_help,
        )(f)

    return decorate
