"""What the fleet site has rendered: one fingerprint per session page, in SITE/manifest.json.

A page is rendered again only when its fingerprint changes: the source file's size, mtime
and a hash of its first and last 64 KiB (a grown or rewritten recording changes at least
one), and the rtlens version (a new version may draw the page differently)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import rtlens

MANIFEST_NAME = "manifest.json"
_EDGE = 64 * 1024
_FORMAT = 1


def fingerprint(source_file: str | Path) -> str | None:
    """The source file's fingerprint (reads at most 128 KiB, whatever the file's size);
    None when it cannot be read (a database whose recordings moved): render every time."""
    path = Path(source_file)
    try:
        st = path.stat()
    except OSError:
        return None
    digest = hashlib.sha256()
    with path.open("rb") as f:
        digest.update(f.read(_EDGE))
        if st.st_size > 2 * _EDGE:
            f.seek(-_EDGE, os.SEEK_END)
        digest.update(f.read(_EDGE))
    return f"{st.st_size}:{st.st_mtime_ns}:{digest.hexdigest()[:32]}:{rtlens.__version__}"


@dataclass
class Manifest:
    """session id -> (page file name, fingerprint) for the pages in a site folder."""

    pages: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, site: Path) -> Manifest:
        """The folder's manifest; an absent or unreadable one is empty (all pages render)."""
        try:
            data = json.loads((site / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return cls()
        pages = data.get("pages")
        return cls(pages if isinstance(pages, dict) else {})

    def is_current(self, site: Path, session_id: str, page: str, print_: str | None) -> bool:
        """Whether the page on disk was rendered from this very input."""
        entry = self.pages.get(session_id)
        return (
            print_ is not None
            and entry is not None
            and entry.get("page") == page
            and entry.get("fingerprint") == print_
            and (site / page).is_file()
        )

    def save(self, site: Path) -> None:
        """Write it atomically: an interrupted run leaves the old manifest or the new one."""
        tmp = site / (MANIFEST_NAME + ".tmp")
        tmp.write_text(
            json.dumps({"format": _FORMAT, "pages": self.pages}, indent=1, sort_keys=True),
            encoding="utf-8",
        )
        tmp.replace(site / MANIFEST_NAME)
