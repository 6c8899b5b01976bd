"""Process helpers shared by the stages that run worker processes (ingest, the relay)."""

from __future__ import annotations

import sys

_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def parent_death_signal(signum: int) -> bool:
    """Ask Linux to send `signum` to this process when its parent thread ends (a worker
    whose parent was killed outright would otherwise run on with nobody to answer to).
    False where the platform cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


BACKGROUND_NICENESS = 10


def run_in_background() -> bool:
    """Lower the calling thread's scheduling priority (Linux schedules threads one by one):
    work that must never slow the relay, such as following its recordings for the live
    metrics, then gets a core only when forwarding leaves one. False where it cannot."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
    except (OSError, AttributeError):
        return False
    return sys.platform.startswith("linux")
