"""The temporary folder of one ingest run, and the clean-up of those killed runs left behind.

A run killed outright (SIGKILL, the OOM killer) cannot remove its folder of event-line files
(several MB). Each folder holds a lock file that its run keeps locked (`flock`) as long as
it, or any worker it forked, lives; the kernel drops the lock when they are gone. At start,
a run removes the folders of the same user whose lock nobody holds. A folder without a lock
file is left alone: it may be a run that has only just made it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no clean-up of earlier runs' folders
    fcntl = None  # type: ignore[assignment]

PREFIX = "rtlens-ingest-"
LOCK = "run.lock"  # holds the pid of the run, for whoever looks


@contextlib.contextmanager
def run_folder() -> Iterator[Path]:
    """A new temporary folder for this run, removed at the end; stale ones go first."""
    remove_stale(Path(tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix=PREFIX) as name:
        path = Path(name)
        held = hold(path)
        try:
            yield path
        finally:
            if held is not None:
                os.close(held)


def hold(folder: Path) -> int | None:
    """Lock the folder's lock file for as long as the returned descriptor is open (and
    inherited by forked workers). It is locked before it gets its name: no run sees it
    unlocked."""
    if fcntl is None:
        return None
    draft = folder / (LOCK + ".new")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"%d\n" % os.getpid())
    draft.rename(folder / LOCK)
    return fd


def remove_stale(tmp: Path) -> list[Path]:
    """Remove this user's run folders under `tmp` whose lock nobody holds; returns them."""
    if fcntl is None:
        return []
    removed = []
    uid = os.getuid()
    for folder in tmp.glob(PREFIX + "*"):
        try:
            info = folder.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
            continue
        try:
            fd = os.open(folder / LOCK, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # no lock file yet (a run starting), or not an rtlens run's
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its run (or a worker of it) is alive
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)
        removed.append(folder)
    return removed
