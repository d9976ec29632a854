#!/usr/bin/env python3
"""`make test-matrix`: boot every chapter on every cell of the matrix
(tests/harness/matrix.py), one QEMU per core, and print a table of results.
Exits non-zero when any cell failed.

    /usr/bin/python3 tests/run_matrix.py [--chapter 03-frame-allocator] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness.matrix import full_matrix, run_cell  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", action="append", help="only this chapter (repeatable)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    chapters = args.chapter or harness.chapters()
    cells = full_matrix(chapters)
    print(f"boot matrix: {len(cells)} cells, {args.jobs} at a time", flush=True)

    failed = 0
    header = f"{'chapter':<20} {'machine':<8} {'memory':<7} {'cpu':<10} {'smp':<4} result"
    print(header)
    print("-" * len(header))
    with ThreadPoolExecutor(args.jobs) as pool:
        for cell, found in pool.map(run_cell, cells):
            failed += bool(found)
            verdict = "ok" if not found else "FAIL: " + "; ".join(found)
            print(f"{cell.chapter:<20} {cell.machine:<8} {cell.memory:<7} {cell.cpu:<10} {cell.smp:<4} {verdict}",
                  flush=True)
    print(f"{len(cells) - failed} of {len(cells)} cells passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
