"""`error` events: the exception handlers raise, and the real service's codes and messages.

Handlers raise `ClientError`; the session turns it into an `error` event that echoes the
client's `event_id` (null when the client sent none) and carries on: on the real service an
`error` is never fatal by itself. Messages are copied from real payloads where one was seen
(captures C6, public issue threads cited in the protocol notes); the rest follow the same
house style and are marked "unconfirmed" in the comments.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """A client event the service rejects (one `error` event, the session goes on)."""

    def __init__(
        self,
        message: str,
        code: str | None,
        param: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type_

    def body(self, client_event_id: str | None) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": client_event_id,
        }


def _quoted_list(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) < 2:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + (", and " if len(quoted) > 2 else " and ") + quoted[-1]


def invalid_value(value: object, supported: list[str], param: str) -> ClientError:
    return ClientError(
        f"Invalid value: '{value}'. Supported values are: {_quoted_list(supported)}.",
        "invalid_value",
        param,
    )


def unknown_parameter(param: str) -> ClientError:
    return ClientError(f"Unknown parameter: '{param}'.", "unknown_parameter", param)


def missing_parameter(param: str) -> ClientError:
    return ClientError(
        f"Missing required parameter: '{param}'.", "missing_required_parameter", param
    )


def invalid_type(param: str, expected: str, value: object) -> ClientError:
    return ClientError(
        f"Invalid type for '{param}': expected {expected}, but got {type(value).__name__} instead.",
        "invalid_type",
        param,
    )


def invalid_json() -> ClientError:
    return ClientError(
        "Invalid event: failed to parse JSON value. Expected a JSON object, e.g. "
        '{"type": "session.update"}.',
        "invalid_json",
    )


def binary_frame() -> ClientError:
    return ClientError(
        "Expected a text WebSocket message; binary frames are not supported.", "invalid_event"
    )


def missing_type() -> ClientError:
    # unconfirmed wording; the code is the one [S-GA] gives for an event without `type`
    return ClientError("Invalid event: missing required field 'type'.", "invalid_event", "type")


def not_an_object() -> ClientError:
    return ClientError("Invalid event: expected a JSON object.", "invalid_event")


def commit_empty(buffered_ms: float) -> ClientError:
    return ClientError(
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
        f"audio, but buffer only has {buffered_ms:.2f}ms of audio.",
        "input_audio_buffer_commit_empty",
    )


def active_response(response_id: str) -> ClientError:
    return ClientError(
        f"Conversation already has an active response in progress: {response_id}. Wait until "
        "the response is finished before creating a new one.",
        "conversation_already_has_active_response",
    )


def cancel_not_active() -> ClientError:
    return ClientError(
        "Cancellation failed: no active response found", "response_cancel_not_active"
    )


def no_such_item(action: str, item_id: object) -> ClientError:
    verb = {"truncate": "truncating", "delete": "deleting", "retrieve": "retrieving"}[action]
    return ClientError(
        f"Error {verb} item: the item with id '{item_id}' does not exist.",
        f"item_{action}_invalid_item_id",
        "item_id",
    )


def not_audio_item() -> ClientError:
    return ClientError(
        "Only model output audio messages can be truncated", "unsupported_content_type"
    )


def audio_too_short(actual_ms: int, requested_ms: int) -> ClientError:
    # real message (twilio-samples#45); code and param unconfirmed
    return ClientError(
        f"Audio content of {actual_ms}ms is already shorter than {requested_ms}ms",
        "invalid_value",
        "audio_end_ms",
    )


def cannot_update_voice() -> ClientError:
    return ClientError(
        "Cannot update a conversation's voice if assistant audio is present.",
        "cannot_update_voice",
        "session.voice",
    )


def server_error_body(request_id: str) -> dict[str, Any]:
    return {
        "type": "server_error",
        "code": None,
        "message": "The server had an error while processing your request. Sorry about that! "
        "You can retry your request, or contact us through our help center at "
        f"help.openai.com if the error persists. (Please include the request ID {request_id} "
        "in your message.)",
        "param": None,
        "event_id": None,
    }


def rate_limit_message(model: str, limit: int, used: int, requested: int, wait_s: float) -> str:
    return (
        f"Rate limit reached for {model} in organization org-rtlenssimulator on tokens per min "
        f"(TPM): Limit {limit}, Used {used}, Requested {requested}. Please try again in "
        f"{wait_s:.3f}s. Visit https://platform.openai.com/account/rate-limits to learn more."
    )


# Connection-level failures, sent before a close frame (code, reason = "type.code").
def missing_auth() -> ClientError:
    return ClientError("Missing bearer or basic authentication in header", None)


def invalid_api_key(key: str) -> ClientError:
    shown = (key[:8] + "***" + key[-4:]) if len(key) > 12 else "***"
    return ClientError(
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_api_key",
    )


def missing_model() -> ClientError:
    return ClientError(
        "You must provide a model parameter, for example "
        "wss://api.openai.com/v1/realtime?model=gpt-realtime",
        "missing_model",
    )


def invalid_model(model: str) -> ClientError:
    return ClientError(
        f'Model "{model}" is not supported in realtime mode. Use a realtime model such as '
        "gpt-realtime.",
        "invalid_model",
        "model",
    )


def beta_disabled() -> ClientError:
    return ClientError(
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
        "beta_api_shape_disabled",
    )
