"""The writer's key pre-check (`contains_key`), sped up for the relay's hot path, must agree
exactly with the key regex it guards."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from rtlens.logfile.redact import _KEY_PATTERN, contains_key

# Bytes rich in the characters that matter (s, k, e, -, _) plus key-body characters.
tricky = st.binary(max_size=200) | st.text(alphabet='sek-_ab0Z "', max_size=200).map(str.encode)


@given(prefix=tricky, middle=tricky, suffix=tricky, key=st.booleans())
def test_contains_key_agrees_with_the_regex(
    prefix: bytes, middle: bytes, suffix: bytes, key: bool
) -> None:
    data = prefix + (b"sk-proj_ABCDEFGHIJKLMNOP1234" if key else middle) + suffix
    assert contains_key(data) == (_KEY_PATTERN.search(data) is not None)


def test_audio_frames_and_keys() -> None:
    audio = base64.b64encode(bytes(range(256)) * 100)
    frame = b'{"type":"response.output_audio.delta","event_id":"event_1","delta":"' + audio
    assert not contains_key(frame + b'"}')
    assert contains_key(frame + b'","note":"ek_ABCDEFGHIJKLMNOPQRS"}')
    fake_key = b"sk-" + b"ABCDEFGHIJKLMNOPQRSTUV"  # no key-shaped literal in the repo
    assert contains_key(b"task-list then " + fake_key)
    assert not contains_key(b"task-list and desk-lamp")
