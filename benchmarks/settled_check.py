"""How the live relay's settled rule fares on a folder of recordings: each file is fed to
the incremental normalizer in batches of 1, 5 or 20 lines (at random, seeded), rows are
handed out as `rtlens record --metrics` hands them out, and at the end the rows the
finished file changed after they were published are counted (they should be none).

    python benchmarks/settled_check.py benchmarks/corpus
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from rtlens.ingest.live import LiveSession
from rtlens.live.progress import Progress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.jsonl"))
    rng = random.Random(args.seed)
    turns = early = revised = 0
    for path in files:
        lines = path.read_bytes().splitlines(keepends=True)
        live, progress = LiveSession(path), Progress(str(path))
        at = 0
        while at < len(lines):
            n = rng.choice((1, 5, 20))
            live.feed(b"".join(lines[at : at + n]))
            at += n
            tables = live.tables()
            handed = progress.take(tables, live.settled_turns(), final=False) if tables else None
            if handed is not None:
                early += len(handed.new["turns"])
        live.closed = True
        tables = live.tables()
        if tables is not None:
            progress.take(tables, live.settled_turns(), final=True)
        turns += len(live.state.turns) if live.state else 0
        revised += progress.revised
    print(
        f"{len(files)} files, {turns} turns, {early} settled before their session closed, "
        f"{revised} published rows revised at the close"
    )


if __name__ == "__main__":
    main()
