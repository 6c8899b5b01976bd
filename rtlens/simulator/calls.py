"""WebRTC signalling over HTTP: `POST /v1/realtime/calls` (GA) and `POST /v1/realtime` (beta).

The GA request (protocol §9c) is either the SDP offer itself (`Content-Type: application/sdp`)
or `multipart/form-data` with a field `sdp` and an optional field `session` (a session config,
JSON, as `session.update` takes); the model comes from `session.model`, else `?model=`, else
`gpt-realtime`. The beta request is the offer as `application/sdp` with `?model=`. The answer
is `201 Created`, the SDP answer as `application/sdp`, and `Location: /v1/realtime/calls/<id>`;
errors are JSON `{"error": {...}}`, as the API sends them. Browsers may call it from another
origin: CORS allows any origin and exposes `Location` (the simulator listens on loopback).

This is served by aiohttp on its own port, because websockets (which serves the simulator's
WebSocket port) answers only GET requests.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from rtlens.simulator import errors
from rtlens.simulator.errors import ClientError

MAX_OFFER_BYTES = 256 * 1024
CALL_PATHS = ("/v1/realtime/calls", "/openai/v1/realtime/calls")
BETA_PATH = "/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"


@dataclass(frozen=True)
class Offer:
    """A parsed call request."""

    sdp: str
    beta: bool  # the beta endpoint, or the `OpenAI-Beta: realtime=v1` header
    model: str
    session: dict[str, Any] | None
    key: str | None
    peer: str


@dataclass(frozen=True)
class Answer:
    call_id: str
    sdp: str


OpenCall = Callable[[Offer], Awaitable[Answer]]
"""Start a call for an offer; raises ClientError (HTTP 400) or ValueError (a bad offer)."""


def error_response(status: int, error: ClientError) -> web.Response:
    body = {"error": {k: v for k, v in error.body(None).items() if k != "event_id"}}
    return web.json_response(body, status=status, headers=_cors_headers())


def _cors_headers() -> dict[str, str]:
    return {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Location"}


def _key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth.split(" ", 1)[1].strip() or None
    return request.headers.get("api-key") or None


def _field_text(value: Any) -> str | None:
    """A multipart field as text, whether sent as a plain field or as a file part."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return bytes(value.file.read()).decode("utf-8", "replace")


async def _parse(request: web.Request, beta_path: bool) -> Offer:
    content_type = request.content_type
    session: dict[str, Any] | None = None
    if content_type == "multipart/form-data":
        form = await request.post()
        sdp = _field_text(form.get("sdp"))
        if sdp is None:
            raise ClientError("Missing required parameter: 'sdp'.", "missing_required", "sdp")
        raw_session = _field_text(form.get("session"))
        if raw_session is not None:
            try:
                session = json.loads(raw_session)
            except ValueError:
                session = None
            if not isinstance(session, dict):
                raise ClientError(
                    "Invalid 'session': expected a JSON object.", "invalid_value", "session"
                )
    elif content_type == "application/sdp":
        sdp = await request.text()
    else:
        raise ClientError(
            f"Unsupported Content-Type {content_type!r}: send the SDP offer as application/sdp, "
            "or multipart/form-data with fields 'sdp' and 'session'.",
            "unsupported_content_type",
        )
    model = (session or {}).get("model") or request.query.get("model") or ""
    if not model and not beta_path:
        model = DEFAULT_MODEL
    beta = beta_path or "realtime=v1" in request.headers.get("OpenAI-Beta", "").replace(" ", "")
    peer = request.remote or "?"
    return Offer(sdp, beta, str(model), session, _key(request), peer)


def make_app(
    open_call: OpenCall, require_auth: bool, say: Callable[[str], None]
) -> web.Application:
    """The signalling app: POST an offer, get an answer and the call's id; `say` puts each
    refusal on the terminal."""

    async def post(request: web.Request) -> web.Response:
        response = await answer(request)
        if response.status >= 400:
            say(f"refused offer from {request.remote}: {response.status} {response.text}")
        return response

    async def answer(request: web.Request) -> web.Response:
        beta_path = request.path.rstrip("/") == BETA_PATH
        if require_auth and not _key(request):
            return error_response(401, errors.missing_auth())
        try:
            offer = await _parse(request, beta_path)
            if not offer.model:
                raise errors.missing_model()
            answer = await open_call(offer)
        except ClientError as error:
            return error_response(400, error)
        except web.HTTPRequestEntityTooLarge:
            too_big = f"The SDP offer is over {MAX_OFFER_BYTES} bytes."
            return error_response(413, ClientError(too_big, "invalid_value", "sdp"))
        except ValueError as exc:
            bad = ClientError(f"Invalid SDP offer: {exc}.", "invalid_offer", "sdp")
            return error_response(400, bad)
        headers = {**_cors_headers(), "Location": f"/v1/realtime/calls/{answer.call_id}"}
        return web.Response(
            status=201, text=answer.sdp, content_type="application/sdp", headers=headers
        )

    async def preflight(request: web.Request) -> web.Response:
        return web.Response(
            status=204,
            headers={
                **_cors_headers(),
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, OpenAI-Beta",
            },
        )

    app = web.Application(client_max_size=MAX_OFFER_BYTES)
    for path in (*CALL_PATHS, BETA_PATH):
        app.router.add_post(path, post)
        app.router.add_options(path, preflight)
    return app
