"""The app's requests and what answers them: `response.create` and `response.cancel`.

A request is only known to have taken effect when the server answers it, and the answer
names no request (a `response.created` does not say which create it answers). The server
handles client events in the order sent, so requests wait here until an answer of their
kind arrives, and leave when an `error` refuses them.
"""

from __future__ import annotations

from typing import Any

from rtlens.ingest.fields import get_dict
from rtlens.ingest.state import CreateRequest, Response, SessionState

# Creates waiting for an answer, at most (out-of-band ones may be many at once).
MAX_PENDING_CREATES = 16


def create_sent(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    """The app's response.create: manual turns, extra responses, out-of-band requests."""
    body = get_dict(st, ev, "response", "response.create") or {}
    event_id = ev.get("event_id")
    request = CreateRequest(
        st.seq,
        t,
        body.get("conversation") == "none",
        event_id if isinstance(event_id, str) else None,
    )
    st.pending_creates.append(request)
    del st.pending_creates[:-MAX_PENDING_CREATES]


def answered_request(st: SessionState, resp: Response, out_of_band: bool | None) -> None:
    """Match a new response to the app's request it answers, if any (`resp.request`).

    In the conversation only one response runs at a time, so a new in-conversation response
    answers the latest waiting in-conversation request, and older ones were refused or
    overtaken (a refusal without the request's event_id leaves nothing else to go by). They
    stay with the response (`resp.overtaken`): if the request it took is refused after all
    (a duplicate create), the answer goes to the next older one.
    Out-of-band responses may run side by side: each answers the oldest waiting out-of-band
    request. `out_of_band` None (the event has no `conversation_id`, which real captures of
    both dialects do have): the oldest waiting request of either kind."""
    pending = st.pending_creates
    if not pending:
        return
    if out_of_band is None:
        request = pending.pop(0)
    elif out_of_band:
        oob = next((i for i, r in enumerate(pending) if r.out_of_band), None)
        if oob is None:
            return
        request = pending.pop(oob)
    else:
        latest = next((r for r in reversed(pending) if not r.out_of_band), None)
        if latest is None:
            return
        request = latest
        resp.overtaken = [r for r in pending if not r.out_of_band and r is not latest]
        st.pending_creates = [r for r in pending if r.out_of_band]
    resp.request = request
    if request.event_id is not None:
        st.answered[request.event_id] = resp


def create_refused(st: SessionState, client_event_id: str | None, code: str | None) -> None:
    """An error answering a response.create: that request gets no response. If a response
    was already taken to answer it (it was the server's own, created before the refusal
    came), that response is the server's again. Without the request's event_id, the refusal
    of a second in-conversation response (one at a time) answers the latest such request."""
    pending = st.pending_creates
    if client_event_id is not None:
        for i, request in enumerate(pending):
            if request.event_id == client_event_id:
                del pending[i]
                return
        taken = st.answered.pop(client_event_id, None)
        if taken is not None:
            _unanswer(st, taken)
            return
        last = st.last_conversation_response  # it may be one that response overtook
        if last is not None:
            last.overtaken = [r for r in last.overtaken if r.event_id != client_event_id]
        return
    if code != "conversation_already_has_active_response":
        return
    for i in range(len(pending) - 1, -1, -1):
        if not pending[i].out_of_band:
            del pending[i]
            return
    last = st.last_conversation_response
    if last is not None and last.request is not None:
        _unanswer(st, last)


def _unanswer(st: SessionState, resp: Response) -> None:
    """The request `resp` was taken to answer was refused: it answers the next older
    request it overtook, if any, else it was the server's own."""
    refused = resp.request
    resp.request = resp.overtaken.pop() if resp.overtaken else None
    if resp.request is None and resp.trigger == "response.create":
        resp.trigger = "turn"
    if resp.request is not None and resp.request.event_id is not None:
        st.answered[resp.request.event_id] = resp
    turn = resp.turn
    if (
        refused is not None
        and turn is not None
        and turn.responses
        and turn.responses[0] is resp
        and turn.response_create_ms == refused.sent_ms
    ):
        turn.response_create_ms = resp.request.sent_ms if resp.request else None


def cancel_sent(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    st.pending_cancel = (st.seq, t)


def cancel_time(st: SessionState, resp: Response, t: float | None) -> float | None:
    """When a cancelled response was stopped: the app's cancel if one waits (it may have been
    sent just before the response was even created), else its `response.done` (`t`)."""
    cancel = st.pending_cancel
    if resp.status_reason == "turn_detected" or cancel is None:
        return t
    st.pending_cancel = None
    return cancel[1]


def cancel_refused(st: SessionState) -> None:
    """`response_cancel_not_active`: the app's cancel stopped nothing."""
    st.pending_cancel = None
