"""`python -m rtlens.simulator.apps URL --script NAME`: run one scripted app and summarise it."""

from __future__ import annotations

import argparse
import asyncio

from rtlens.simulator.apps import SCRIPTS, run_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", nargs="?", default="ws://127.0.0.1:8766/v1/realtime")
    parser.add_argument("--script", choices=list(SCRIPTS), default="conversation")
    parser.add_argument("--dialect", choices=["ga", "beta"], default="ga")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pace", type=float, default=1.0)
    args = parser.parse_args()
    result = asyncio.run(
        run_app(args.url, script=args.script, dialect=args.dialect, seed=args.seed, pace=args.pace)
    )
    print(
        f"{args.script} ({args.dialect}): {len(result.received)} server events, "
        f"{len(result.sent)} client events, close {result.close_code}, "
        f"heard {result.heard_ms / 1000:.1f} s, {len(result.truncations)} truncations"
    )
    for kind, count in sorted(result.counts.items()):
        print(f"  {count:5d}  {kind}")


if __name__ == "__main__":
    main()
