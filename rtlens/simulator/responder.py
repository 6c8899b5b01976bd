"""One response, from `response.created` to `response.done` (and `rate_limits.updated`).

A `Response` runs as its own task so the session keeps reading client events while it
streams. It can be interrupted at any pause: by VAD barge-in (`turn_detected`), the client's
`response.cancel` (`client_cancelled`), a scenario's scripted failure, or the output token cap.
The interrupter waits for `finished`, so the trailing done events and `response.done` are on
the wire before the session handles the next client event (the order the real service uses).

`rate_limits.updated` comes right after `response.created` in beta (requests + tokens, with
the input and an output reservation counted as used, as real beta samples suggest: C1 shows
5,490 tokens used for a response of 1,010) and ~40 ms after `response.done` in GA (tokens
only), and not at all for a response cancelled before any output (C1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rtlens.simulator import canned, errors, timing
from rtlens.simulator.conversation import prompt_tokens
from rtlens.simulator.shapes import ResponseParams, item_object, response_object
from rtlens.simulator.streaming import stream_function_call, stream_message
from rtlens.simulator.usage import (
    TRANSCRIPT_OVERHEAD_TOKENS,
    Tokens,
    audio_tokens,
    cached_split,
    text_tokens,
    truncated,
    usage_object,
    zero_usage,
)

if TYPE_CHECKING:
    from rtlens.simulator.session import Session

BETA_OUTPUT_RESERVE = 4096
Step = Callable[[int], Awaitable[None]]


class ConnectionDroppedError(Exception):
    """The scenario dropped the connection: stop without another frame."""


class Response:
    def __init__(self, session: Session, index: int, params: ResponseParams) -> None:
        self.session = session
        self.index = index
        self.params = params
        self.dialect = session.dialect
        self.stream = session.streams(f"response:{index}")
        self.id = self.stream.response_id()
        self.in_conversation = params.conversation == "auto"
        self.items: list[Any] = []
        self.reason: str | None = None
        self.chunks = 0
        self.failure: dict[str, Any] | None = None
        self._wake = asyncio.Event()
        self.finished = asyncio.Event()

    async def emit(self, canonical: str, **fields: Any) -> None:
        await self.session.emit(self.stream, canonical, **fields)

    def obfuscation(self) -> dict[str, str]:
        return {"obfuscation": self.stream.obfuscation()} if self.dialect == "ga" else {}

    async def pause(self, ms: float) -> bool:
        """Wait `ms` of service time; True if the response was interrupted meanwhile."""
        if self.reason is None:
            await self.session.clock.sleep_or(self._wake, ms)
        return self.reason is not None

    async def cancel(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self._wake.set()
        await self.finished.wait()

    async def after_chunk(self) -> bool:
        """Scenario hooks after each streamed chunk; True if the response must stop."""
        self.chunks += 1
        scenario = self.session.scenario
        if self.chunks == scenario.mid_stream_chunks:
            every = scenario.server_error_every
            if every and self.index % every == 0:
                body = errors.server_error_body("req_" + self.stream.token(32).lower())
                await self.emit("error", error=body)
                self.failure = {k: body[k] for k in ("type", "code", "message")}
                self.reason = "failed"
            if scenario.drop_on_response == self.index:
                self.session.drop()
                raise ConnectionDroppedError
        cap = self.params.max_output_tokens
        if isinstance(cap, int) and self.output_tokens().total >= cap and self.reason is None:
            self.reason = "max_output_tokens"
        return self.reason is not None

    # ---- accounting ----------------------------------------------------------------------

    def context_tokens(self) -> Tokens:
        params = self.params
        base = prompt_tokens(params.instructions, params.tools)
        if params.input_items is not None:
            for item in params.input_items:
                base += item.tokens()
            return base
        return truncated(base + self.session.conv.tokens())

    def output_tokens(self) -> Tokens:
        out = Tokens()
        for item in self.items:
            if item.type == "function_call":
                out += Tokens(text_tokens((item.name or "") + item.arguments), 0)
            for part in item.parts:
                spoken = audio_tokens(part.audio_ms) if part.kind == "output_audio" else 0
                words = text_tokens(part.text or "")
                overhead = (
                    TRANSCRIPT_OVERHEAD_TOKENS if spoken and part.kind == "output_audio" else 0
                )
                out += Tokens(words + overhead, spoken)
        return out

    def _object(self, status: str, **extra: Any) -> dict[str, Any]:
        conv_id = self.session.conv.id if self.in_conversation else None
        output = (
            [item_object(i, self.dialect) for i in self.items] if status != "in_progress" else []
        )
        return response_object(
            self.id,
            self.params,
            self.dialect,
            status=status,
            conversation_id=conv_id,
            output=output,
            **extra,
        )

    # ---- the run --------------------------------------------------------------------------

    def _tool(self) -> dict[str, Any] | None:
        params = self.params
        tools = [t for t in params.tools if t.get("type", "function") == "function"]
        if not tools or params.tool_choice == "none" or self._after_tool():
            return None
        if isinstance(params.tool_choice, dict):
            named = [t for t in tools if t.get("name") == params.tool_choice.get("name")]
            return (named or tools)[0]
        scenario = self.session.scenario
        odd_turn = self.session.user_turns % 2 == 1
        if params.tool_choice == "required" or scenario.always_call_tools or odd_turn:
            return self.stream.choice(tools)
        return None

    def _after_tool(self) -> bool:
        items = self.params.input_items
        context = items if items is not None else self.session.conv.items
        return bool(context) and context[-1].type == "function_call_output"

    def _plan(self) -> list[Step]:
        tool = self._tool()
        if tool is None:
            text = canned.reply_text(self.stream, after_tool=self._after_tool())
            return [lambda i: stream_message(self, text, i)]
        steps: list[Step] = []
        if self.params.audio_out and self.stream.random() < 0.5:
            preamble = self.stream.choice(canned.TOOL_PREAMBLES)
            steps.append(lambda i: stream_message(self, preamble, i))
        arguments = canned.tool_arguments(tool, self.stream)
        steps.append(lambda i: stream_function_call(self, tool, arguments, i))
        return steps

    async def run(self) -> None:
        session = self.session
        try:
            await session.clock.sleep_or(self._wake, self.stream.jitter(timing.RESPONSE_CREATED))
            context = self.context_tokens()
            shortfall = session.rate.shortfall(context.total) if self.reason is None else None
            if shortfall:
                await self._rate_limited(context, *shortfall)
                return
            await self.emit("response.created", response=self._object("in_progress"))
            if self.dialect == "beta":
                session.rate.spend(0, requests=1)
                cap = self.params.max_output_tokens
                reserve = min(
                    BETA_OUTPUT_RESERVE,
                    session.rate.token_limit // 10,
                    cap if isinstance(cap, int) else BETA_OUTPUT_RESERVE,
                )
                await self.emit(
                    "rate_limits.updated",
                    rate_limits=session.rate.snapshot(
                        with_requests=True, reserved=context.total + reserve
                    ),
                )
            if not await self.pause(self.stream.jitter(timing.FIRST_OUTPUT_ITEM)):
                for index, step in enumerate(self._plan()):
                    await step(index)
                    if self.reason:
                        break
            await self._finish(context)
        except ConnectionDroppedError:
            pass
        finally:
            self.finished.set()
            if session.active is self:
                session.active = None

    def _status(self) -> tuple[str, dict[str, Any] | None]:
        if self.reason in ("turn_detected", "client_cancelled"):
            return "cancelled", {"type": "cancelled", "reason": self.reason}
        if self.reason == "failed":
            return "failed", {"type": "failed", "error": self.failure}
        if self.reason == "max_output_tokens":
            return "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
        return "completed", None

    async def _finish(self, context: Tokens) -> None:
        session = self.session
        if self.items:
            cached = cached_split(session.last_context, context)
            session.last_context = context
            usage = usage_object(self.dialect, context, cached, self.output_tokens())
        else:
            usage = zero_usage(self.dialect)
        status, details = self._status()
        session.active = None
        await self.emit(
            "response.done", response=self._object(status, status_details=details, usage=usage)
        )
        if session.media is not None:  # `output_audio_buffer.stopped` follows once it has played
            session.media.generated(self.id)
        if self.items:
            session.rate.spend(usage["total_tokens"])
            if self.dialect == "ga":
                await session.clock.sleep(self.stream.jitter(timing.RATE_LIMITS_AFTER_DONE))
                await self.emit(
                    "rate_limits.updated", rate_limits=session.rate.snapshot(with_requests=False)
                )

    async def _rate_limited(self, context: Tokens, used: int, wait_s: float) -> None:
        session = self.session
        message = errors.rate_limit_message(
            session.cfg.model, session.rate.token_limit, used, context.total, wait_s
        )
        details = {
            "type": "failed",
            "error": {"type": "tokens", "code": "rate_limit_exceeded", "message": message},
        }
        await self.emit("response.created", response=self._object("in_progress"))
        if self.dialect == "beta":
            await self.emit(
                "rate_limits.updated",
                rate_limits=session.rate.snapshot(with_requests=True, reserved=context.total),
            )
        session.active = None
        await self.emit(
            "response.done",
            response=self._object("failed", status_details=details, usage=zero_usage(self.dialect)),
        )
        if self.dialect == "ga":
            await session.clock.sleep(self.stream.jitter(timing.RATE_LIMITS_AFTER_DONE))
            await self.emit(
                "rate_limits.updated", rate_limits=session.rate.snapshot(with_requests=False)
            )
