"""Which recorded server frames are released after which client event (pure logic, no I/O).

A server frame recorded after the k-th client frame waits until the k-th client event has
arrived, then its recorded gap from the preceding frame (÷ speed). Frames before any client
frame (e.g. session.created) have k = 0 and run on the recorded clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson


class ReplayError(Exception):
    """The recording cannot be replayed (one line, names file and line)."""


@dataclass(frozen=True)
class ServerStep:
    after_clients: int  # released once this many client events have arrived
    gap_s: float  # recorded gap from the preceding frame (either direction)
    text: str | None  # text frame to send, or None for a binary frame
    data: bytes | None
    line_no: int


@dataclass(frozen=True)
class ClientExpect:
    type: str | None
    line_no: int


@dataclass(frozen=True)
class Schedule:
    steps: list[ServerStep]
    clients: list[ClientExpect]


def load_schedule(path: str | Path) -> Schedule:
    """Read a recording line by line into its release schedule."""
    import base64

    steps: list[ServerStep] = []
    clients: list[ClientExpect] = []
    prev_ts: float | None = None
    try:
        fh = Path(path).open("rb")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise ReplayError(f"{path}: cannot open: {exc.strerror}") from None
    with fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ReplayError(f"{path}:{line_no}: not JSON") from None
            if not isinstance(obj, dict) or "rtlens" in obj or "close" in obj:
                continue
            direction = obj.get("dir")
            ts = obj.get("ts")
            gap = 0.0
            if isinstance(ts, (int, float)):
                gap = max(0.0, ts - prev_ts) if prev_ts is not None else 0.0
                prev_ts = float(ts)
            event = obj.get("event")
            if direction == "client":
                etype = event.get("type") if isinstance(event, dict) else None
                clients.append(ClientExpect(etype if isinstance(etype, str) else None, line_no))
            elif direction == "server":
                text: str | None = None
                data: bytes | None = None
                if "event" in obj:
                    text = orjson.dumps(event).decode()
                elif "text" in obj:
                    text = str(obj["text"])
                elif "binary" in obj:
                    data = base64.b64decode(obj["binary"])
                else:
                    continue
                steps.append(ServerStep(len(clients), gap, text, data, line_no))
    if not steps:
        raise ReplayError(f"{path}: too short to replay: no server frames")
    return Schedule(steps, clients)
