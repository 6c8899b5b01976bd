"""Scripted client apps: realistic Realtime sessions driven against any endpoint.

They exist to make sample logs, tests and benchmarks from the simulator (optionally through
`rtlens record`), and work against both dialects:

    from rtlens.simulator.apps import run_app, SCRIPTS
    result = await run_app("ws://127.0.0.1:8766/v1/realtime", script="barge_in",
                           dialect="beta", seed=1, pace=1.0)
    result.received, result.counts, result.truncations, result.heard_ms

`pace` scales the microphone: 1.0 streams audio in real time, 0 as fast as possible (see
`client.py` for the app clock). Scripts: see `SCRIPTS` and `scripts.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect

from rtlens.simulator.apps.client import App, AppClosedError, AppResult, Gate
from rtlens.simulator.apps.payloads import DEFAULT_MODEL
from rtlens.simulator.apps.scripts import SCRIPTS

__all__ = ["SCRIPTS", "AppResult", "Gate", "run_app"]


def _with_model(url: str, model: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k in ("model", "deployment") for k, _ in query):
        query.append(("model", model))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def run_app(
    url: str,
    *,
    script: str = "conversation",
    dialect: str = "ga",
    seed: int = 0,
    pace: float = 1.0,
    headers: dict[str, str] | None = None,
    model: str | None = None,
    gate: Gate | None = None,
) -> AppResult:
    """Run one scripted session against `url` and return what it saw.

    `url` is the realtime endpoint (`ws://host:port/v1/realtime`); `?model=` is added when
    missing. `headers` default to a placeholder bearer key; beta adds `OpenAI-Beta:
    realtime=v1`. A server close or drop ends the script early (see `result.close_code`).
    `gate` paces the app by what it has received instead of the clock (see `client.py`).
    """
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}; choose one of: {', '.join(SCRIPTS)}")
    if dialect not in ("ga", "beta"):
        raise ValueError("dialect must be 'ga' or 'beta'")
    sent_headers = (
        dict(headers) if headers is not None else {"Authorization": "Bearer sk-rtlens-sim"}
    )
    if dialect == "beta" and not any(k.lower() == "openai-beta" for k in sent_headers):
        sent_headers["OpenAI-Beta"] = "realtime=v1"
    result = AppResult(script, dialect)
    target = _with_model(url, model or DEFAULT_MODEL[dialect])
    async with connect(target, additional_headers=sent_headers, max_size=None) as ws:
        app = App(ws, result, seed=seed, pace=pace, gate=gate)
        reader = asyncio.create_task(app.reader())
        with contextlib.suppress(AppClosedError):
            await SCRIPTS[script](app)
            if gate is not None:
                await gate(app, "close")
        await ws.close()
        await reader
        result.heard_ms = app.speaker.heard_ms(app.clock_ms)
    return result
