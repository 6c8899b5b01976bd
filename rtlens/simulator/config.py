"""`SimulatorConfig`: the knobs of one simulator server (dialect, scenario, seed, pace, auth).

Kept apart from the server so the CLI and callers can build and validate a configuration
without importing websockets or numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rtlens.simulator.scenarios import get_scenario

DialectMode = Literal["auto", "ga", "beta"]
DIALECT_MODES: tuple[str, ...] = ("auto", "ga", "beta")


@dataclass(frozen=True)
class SimulatorConfig:
    """How a simulator server behaves.

    - `dialect`: `auto` speaks GA unless the request asks for beta (`OpenAI-Beta: realtime=v1`
      header, `openai-beta.realtime-v1` subprotocol, or the Azure preview path); `beta` always
      speaks beta; `ga` refuses beta requests with `beta_api_shape_disabled` like OpenAI today.
    - `scenario`: a name from `rtlens.simulator.scenarios.SCENARIOS`.
    - `seed`: every id, canned choice and jitter of connection N comes from `seed` and N.
    - `pace`: multiplies every wall-clock wait; 1.0 = the real service's timing, 0 = no waits.
    - `require_auth`: refuse connections without an API key (close 3000), as OpenAI does.
    """

    dialect: DialectMode = "auto"
    scenario: str = "default"
    seed: int = 0
    pace: float = 1.0
    require_auth: bool = True

    def __post_init__(self) -> None:
        if self.dialect not in DIALECT_MODES:
            raise ValueError(f"dialect must be one of {DIALECT_MODES}, not {self.dialect!r}")
        get_scenario(self.scenario)
        if not self.pace >= 0:
            raise ValueError(f"pace must be >= 0, not {self.pace!r}")
