"""Write one session's recording, a line at a time, so a crash leaves a valid file.

Every line goes to the file in a single unbuffered `write`, so the file is valid JSONL up to
its last complete line whatever happens to the process. A write that fails raises
`RecordingError`: the caller (relay or hook) must stop relaying rather than let traffic pass
unrecorded.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

import orjson

from rtlens.catalogue import BY_WIRE, audio_field
from rtlens.logfile import format as fmt
from rtlens.logfile.redact import (
    contains_key,
    scrub_binary,
    scrub_escaped_bytes,
    scrub_event,
    scrub_keys,
    strip_audio,
)
from rtlens.version import __version__

# A JSON string under a key naming an audio field (with whatever whitespace JSON allows).
_AUDIO_STRING = re.compile(
    rb'("(?:%b)"\s*:\s*)"(?:[^"\\]|\\.)*"'
    % b"|".join(
        sorted({spec.audio_field.encode() for spec in BY_WIRE.values() if spec.audio_field})
    )
)


class RecordingError(OSError):
    """The recording could not be written."""


# Recordings hold prompts, voices and transcripts: owner-only unless asked otherwise.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
SHARED_FILE_MODE = 0o644  # the old behaviour (`--shared-files`), less the umask


def make_out_dir(out_dir: str | os.PathLike[str], *, shared_files: bool = False) -> None:
    """Create the recordings folder (and missing parents). Folders created here are 0700
    whatever the umask (with `shared_files`, the umask decides); an existing folder is left
    as its owner set it."""
    path = Path(out_dir)
    if shared_files:
        path.mkdir(parents=True, exist_ok=True)
        return
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # another session or process made it meanwhile
            continue
        folder.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is cut by the umask


class SessionWriter:
    """Append-only writer for one session file (SPEC §1)."""

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        source: str,
        upstream: str | None,
        redact_audio: bool = False,
        session_id: str | None = None,
        clock: fmt.SessionClock | None = None,
        shared_files: bool = False,
        **header_extra: Any,
    ) -> None:
        self.clock = clock or fmt.SessionClock()
        self.session_id = session_id or fmt.new_session_id()
        self.redact_audio = redact_audio
        self.path = Path(out_dir) / fmt.session_file_name(self.clock.started_us, self.session_id)
        self.events = 0
        self.bytes_written = 0
        self.closed = False
        header = fmt.make_header(
            session_id=self.session_id,
            started_us=self.clock.started_us,
            source=source,
            upstream=upstream,
            rtlens_version=__version__,
            redaction={"secrets": True, "audio": redact_audio},
            **header_extra,
        )
        mode = SHARED_FILE_MODE if shared_files else PRIVATE_FILE_MODE
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, mode)
            if not shared_files:
                os.fchmod(self._fd, mode)  # exactly 0600, whatever the umask took away
        except OSError as exc:
            raise RecordingError(f"cannot create {self.path}: {exc.strerror or exc}") from exc
        line = fmt.encode_header(header)
        try:
            self._write(scrub_keys(line) if contains_key(line) else line)
        except RecordingError:
            # (a full disk): no empty file, which every later ingest would report
            self.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise

    @classmethod
    def reopen(cls, path: str | os.PathLike[str], *, redact_audio: bool = False) -> SessionWriter:
        """Append to a recording another writer started, without a header: the browser
        collector's calls, whose batches any relay worker may take. Give every line its
        `ts_us` (this writer's clock is not the session's)."""
        self = cls.__new__(cls)
        self.clock = fmt.SessionClock()
        self.session_id = ""
        self.redact_audio = redact_audio
        self.path = Path(path)
        self.events = 0
        self.closed = False
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise RecordingError(f"cannot open {self.path}: {exc.strerror or exc}") from exc
        self.bytes_written = os.fstat(self._fd).st_size  # where a failed write cuts back to
        return self

    # -- frames ---------------------------------------------------------------------------------

    def write_text(self, direction: str, data: bytes | str, ts_us: int | None = None) -> int:
        """Record a text frame as received; returns the timestamp used (epoch µs).

        Raises UnicodeDecodeError, writing nothing, if `data` is not UTF-8: such a frame
        has no lossless `text` line, and the caller decides (the relay records it as
        `binary` and closes with 1007)."""
        ts_us = self.clock.now_us() if ts_us is None else ts_us
        raw = data.encode() if isinstance(data, str) else data
        try:
            event = orjson.loads(raw)  # orjson refuses invalid UTF-8 too
        except orjson.JSONDecodeError:
            text = raw.decode()  # checked only here: valid JSON is valid UTF-8
            if contains_key(raw):
                text = scrub_keys(raw).decode()
            self._write(fmt.encode_text(ts_us, direction, text))
        else:
            try:
                line = self._event_line(ts_us, direction, raw, event)
            except TypeError:  # nested deeper than orjson writes (it reads deeper)
                line = self._too_deep_line(ts_us, direction, raw, event)
            self._write(line)
        self.events += 1
        return ts_us

    def write_binary(self, direction: str, data: bytes, ts_us: int | None = None) -> int:
        ts_us = self.clock.now_us() if ts_us is None else ts_us
        self._write(fmt.encode_binary(ts_us, direction, scrub_binary(data)))
        self.events += 1
        return ts_us

    def write_close(self, by: str, code: int | None, reason: str, ts_us: int | None = None) -> None:
        """Write the close line and close the file. Safe to call more than once."""
        if self.closed:
            return
        ts_us = self.clock.now_us() if ts_us is None else ts_us
        line = fmt.encode_close(ts_us, by, code, reason)
        try:
            self._write(scrub_keys(line) if contains_key(line) else line)
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._fd)

    @property
    def duration_s(self) -> float:
        return (self.clock.now_us() - self.clock.started_us) / 1e6

    # -- internals ------------------------------------------------------------------------------

    def _event_line(self, ts_us: int, direction: str, raw: bytes, event: Any) -> bytes:
        audio_bytes = None
        if self.redact_audio and isinstance(event, dict):
            audio_bytes = strip_audio(event, audio_field(direction, str(event.get("type"))))
            if audio_bytes is not None:
                raw = orjson.dumps(event)
        if b"\n" in raw or b"\r" in raw:
            # Pretty-printed JSON would break the one-line-per-frame format; the value is kept.
            raw = orjson.dumps(event)
        raw = scrub_event(raw, event)
        return fmt.encode_event(ts_us, direction, raw, audio_bytes)

    def _too_deep_line(self, ts_us: int, direction: str, raw: bytes, event: Any) -> bytes:
        """A frame orjson cannot write back (nested more than 254 levels deep): recorded as
        sent if it is one line, else as a text frame. When audio is redacted, every string
        under an audio field's name (`audio`, `delta`) is emptied in the text, since the
        parsed event (where `strip_audio` cut it) cannot be written."""
        if self.redact_audio:
            raw = _AUDIO_STRING.sub(rb'\1""', raw)
        raw = scrub_escaped_bytes(raw)  # the parsed event cannot be re-encoded here
        if b"\n" in raw or b"\r" in raw:
            return fmt.encode_text(ts_us, direction, raw.decode("utf-8", "replace"))
        return fmt.encode_event(ts_us, direction, raw, None)

    def _write(self, line: bytes) -> None:
        if self.closed:
            raise RecordingError(f"{self.path} is already closed")
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # partial writes only happen on odd filesystems
                written += os.write(self._fd, line[written:])
        except OSError as exc:
            # Cut back a partial line so the file stays valid JSONL up to its last full event.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self.bytes_written)
            raise RecordingError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.bytes_written += len(line)
