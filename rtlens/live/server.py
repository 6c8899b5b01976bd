"""Serving `/metrics` over HTTP (prometheus_client's own server, in a daemon thread)."""

from __future__ import annotations

import errno
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server


class MetricsServerError(Exception):
    """The metrics address cannot be served (message ready for the user)."""


def serve_metrics(host: str, port: int, registry: CollectorRegistry) -> tuple[Any, int]:
    """Serve `registry` at http://HOST:PORT/metrics; returns (server, bound port)."""
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise MetricsServerError(
                f"cannot serve metrics on {host}:{port}: the port is already in use; "
                "stop the other program or choose another port"
            ) from None
        raise MetricsServerError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
        ) from None
    return server, server.server_port
