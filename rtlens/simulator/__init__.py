"""`rtlens simulate`: a local stand-in for the OpenAI Realtime API (WebSocket, beta and GA).

Where it sits: beside the data flow, as a source of sessions. Tests, benchmarks and the sample
logs point a client (the scripted apps in `rtlens.simulator.apps`, the `openai` SDK, a user's own
app) at it instead of `wss://api.openai.com`, optionally through `rtlens record`.

    from rtlens.simulator import SimulatorConfig, serve, run
    cfg = SimulatorConfig(dialect="auto", scenario="default", seed=0, pace=1.0)
    async with serve("127.0.0.1", 0, cfg) as server:
        url = f"{server.url}?model=gpt-realtime"      # server.port is the bound port
    run("127.0.0.1:8766", cfg)                        # blocking; Ctrl-C stops it

Modules: `server` (HTTP path, auth, dialect) → `session` (the per-connection state machine)
+ `handlers`/`turns` (one function per client event) → `responder`/`streaming` (responses),
`transcriber`, `inputbuf`/`vad`/`audio` (input audio and synthetic speech); wire shapes in
`dialect`/`updates`/`checks` (session config), `requests` (client items and response
options), `shapes` (items and response objects), `conversation` (items and their tokens),
`usage` (tokens, cached tokens, rate limits), `errors` (real error codes and messages);
`scenarios`, `canned` (what the model "says"), `ids` (seeded streams), `timing` (pace).
Event names come from `rtlens.catalogue` only. Scripted client apps: `rtlens.simulator.apps`.

Heavy imports (websockets, numpy) happen on first use of `serve`/`run`, so the CLI can list
scenarios cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rtlens.simulator.config import SimulatorConfig
from rtlens.simulator.scenarios import SCENARIO_NAMES, SCENARIOS, Scenario

if TYPE_CHECKING:
    from rtlens.simulator.server import SimulatorServer, run, serve

__all__ = [
    "SCENARIOS",
    "SCENARIO_NAMES",
    "Scenario",
    "SimulatorConfig",
    "SimulatorServer",
    "run",
    "serve",
]


def __getattr__(name: str) -> Any:
    if name in ("serve", "run", "SimulatorServer"):
        from rtlens.simulator import server

        return getattr(server, name)
    raise AttributeError(name)
