"""Which files a re-ingest must read: new ones, and those changed since the database
last loaded them (`rtlens.logfile.stamp` tells; `rtlens.store.files` remembers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtlens.logfile.stamp import FileStamp


@dataclass
class Plan:
    """What this run reads: indexes into its file list, in input order."""

    stamps: list[FileStamp | None]
    read: list[int] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0


def plan(
    stamps: list[FileStamp | None], known: dict[str, FileStamp], *, full: bool = False
) -> Plan:
    """Decide from the files' stamps now and those the database remembers (`full`: read
    every file whatever it remembers)."""
    result = Plan(stamps)
    for index, now in enumerate(stamps):
        before = None if now is None else known.get(now.source_file)
        if before is None:
            result.new += 1
        elif before != now:
            result.changed += 1
        else:
            result.unchanged += 1
            if not full:
                continue
        result.read.append(index)
    return result
