"""`rtlens record --tls-cert/--tls-key`: serve the relay as `wss://` for clients that refuse
`ws://`.

The Node `openai` SDK builds its Realtime URL from the client's base URL and forces `wss:`
on it (7.x also refuses a custom URL that is not `wss:`), so it cannot talk to a plain
`ws://` relay. Given a certificate the client trusts (a self-signed one, passed to Node as
`NODE_EXTRA_CA_CERTS`), the relay listens with TLS instead; what it records is the same.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path


class TlsError(ValueError):
    """The certificate or key cannot be used; the message says which file and why."""


def server_context(
    cert: str | os.PathLike[str], key: str | os.PathLike[str] | None = None
) -> ssl.SSLContext:
    """A TLS server context from a PEM certificate (chain) and its private key.

    `key` may be left out when the certificate file holds the key too.
    """
    for label, path in (("certificate", cert), ("key", key)):
        if path is not None and not Path(path).is_file():
            raise TlsError(f"TLS {label} {path}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except ssl.SSLError as exc:  # e.g. a key that does not match the certificate
        raise TlsError(
            f"cannot use TLS certificate {cert}"
            + (f" with key {key}" if key is not None else "")
            + f": {exc.reason or exc}"
        ) from None
    except OSError as exc:
        raise TlsError(f"cannot read TLS certificate {cert}: {exc.strerror or exc}") from None
    return context
