"""``python -m benchmarks``: every benchmark against PyTorch, printed as one table.

    python -m benchmarks                             # all sections, 3 rounds, 2 threads
    python -m benchmarks --sections inference memory --rounds 5
    python -m benchmarks --json > results.json

Each side runs in its own fresh processes, alternating over the rounds; the best of each side
is compared (see ``benchmarks._runner``). A full run takes 10-20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from benchmarks.report import SECTIONS, collect, format_report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="what to measure (default: everything)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per case per round")
    parser.add_argument("--threads", type=int, default=2, help="threads for both sides")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    report = collect(
        args.sections,
        rounds=args.rounds,
        repeats=args.repeats,
        threads=args.threads,
        progress=not args.json,
    )
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
