"""The identity of one state of a recording file, to tell whether it changed since it was
last read (a recording still being written grows; a rewritten one changes).

A file is the same when its size, mtime and a fingerprint of its first and last bytes are,
and the same rtlens read it. The fingerprint catches a file rewritten in place with the
same size and a restored mtime; it reads at most 2 x `FINGERPRINT_BYTES`, so telling costs
the same whatever the recording's length.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from rtlens.version import __version__

FINGERPRINT_BYTES = 8 << 10  # the header line and the close line, and more


@dataclass(frozen=True)
class FileStamp:
    source_file: str  # resolved path, as in sessions.source_file
    size: int
    mtime_ns: int
    fingerprint: str  # hash of the first and last FINGERPRINT_BYTES
    rtlens_version: str


def stamp(path: Path, resolved: str) -> FileStamp | None:
    """This file's state now (`resolved`: its resolved path, the key it is stored under),
    or None if it cannot be read (its reader will report why) or is no regular file (a
    pipe has no state to compare, and opening it here would wait for its writer): then it
    is read anyway."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        with path.open("rb") as f:
            info = os.fstat(f.fileno())
            digest = hashlib.blake2b(digest_size=16)
            digest.update(f.read(FINGERPRINT_BYTES))
            if info.st_size > FINGERPRINT_BYTES:
                f.seek(max(FINGERPRINT_BYTES, info.st_size - FINGERPRINT_BYTES))
                digest.update(f.read(FINGERPRINT_BYTES))
    except OSError:
        return None
    return FileStamp(resolved, info.st_size, info.st_mtime_ns, digest.hexdigest(), __version__)
