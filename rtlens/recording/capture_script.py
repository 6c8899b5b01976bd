"""The browser capture script (`capture.js`, shipped in the package) with its settings
filled in: where it posts, and the header allowlist, taken from `rtlens.logfile.redact` so
the page and the recorder keep the same header values and nothing else."""

from __future__ import annotations

from importlib.resources import files

import orjson

from rtlens.logfile.redact import SAFE_HEADERS

DEFAULT_COLLECT_URL = "http://127.0.0.1:8765/collect"


def capture_js(collect_url: str | None = DEFAULT_COLLECT_URL) -> str:
    """The script; with `collect_url` None it posts to /collect beside its own `src`."""
    text = files("rtlens.recording").joinpath("capture.js").read_text(encoding="utf-8")
    text = text.replace("__RTLENS_SAFE_HEADERS__", orjson.dumps(sorted(SAFE_HEADERS)).decode())
    if collect_url is not None:
        text = text.replace("'__RTLENS_COLLECT_URL__'", orjson.dumps(collect_url).decode())
    return text
