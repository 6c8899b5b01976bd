"""Named simulator scenarios: the special behaviours `rtlens simulate --scenario` can switch on.

A scenario is data, not code: each field is a knob the session, responder and transcriber read.
This module stays free of heavy imports because the CLI imports it to list the names in
`--help`. Rules that pick *which* turn misbehaves are counted per connection (first response,
every other transcription...) so a test knows in advance what it will see.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One simulator behaviour profile."""

    name: str
    summary: str
    tokens_per_minute: int | None = None
    """Overrides the `tokens` rate limit (None = the realistic default for the dialect)."""
    fail_transcription_every: int = 0
    """When > 0, transcription number 0, N, 2N... of a connection fails (`…failed`)."""
    server_error_every: int = 0
    """When > 0, response number 0, N, 2N... hits a `server_error` mid-stream and fails."""
    drop_on_response: int | None = None
    """Drop the connection (no close frame) during this response number (0-based)."""
    always_call_tools: bool = False
    """Answer with a function call whenever tools are configured (not after tool output)."""
    mid_stream_chunks: int = 3
    """How many audio/text chunks a response streams before a scripted failure strikes."""


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "default",
            "ordinary service: realistic timing, tools called on odd user turns",
        ),
        Scenario(
            "rate-limit",
            "tokens per minute set to 700; once spent, responses fail rate_limit_exceeded",
            tokens_per_minute=700,
        ),
        Scenario(
            "transcription-failure",
            "every other input transcription fails (the first one included)",
            fail_transcription_every=2,
        ),
        Scenario(
            "server-error",
            "every other response (the first included) gets a server_error and ends failed",
            server_error_every=2,
        ),
        Scenario(
            "drop",
            "the connection drops without a close frame in the middle of the first response",
            drop_on_response=0,
        ),
        Scenario(
            "tools",
            "always answer with a function call when the session or response has tools",
            always_call_tools=True,
        ),
    )
}

SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`; ValueError listing the valid names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIO_NAMES)}"
        ) from None
