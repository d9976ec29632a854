#!/usr/bin/python3
"""Boot every chapter the book quotes, once per command line, and keep the logs.

Usage: scripts/book/capture_logs.py OUT_DIR MARKDOWN_FILE_OR_DIR...

Finds every directive that reads a boot (``{bootlog}``, ``{address-space}``,
``{page-walk}``: ``kernelbook.bootlogs.LOG_DIRECTIVES``) in the given Markdown
(the book's pages and the chapter READMEs they include), boots each named (chapter, command
line, memory) with the test harness (the same QEMU command line as ``make run``
and the tests), and writes, per boot:

* ``OUT_DIR/<name>.log``         our ``[LEVEL subsystem]`` lines, as printed
* ``OUT_DIR/<name>.serial.log``  the whole serial output, escape codes removed
* ``OUT_DIR/<name>.json``        outcome, command line, QEMU settings, duration,
                                 and the monitor readings the tests take after
                                 this boot (``tests/harness/inspections.py``)

A log newer than the chapter's disk image, captured on the same firmware, is
kept as it is. Each log records the ``make test`` session that made it, so the
tests of that session read it back instead of booting again
(``tests/harness/boot_logs.py``). A boot without a
command line must end in success; a boot with one may also end in the failure
code (``test.fail=...``); any other end (timeout, reset, QEMU error) fails.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "book" / "_ext"))

import harness  # noqa: E402
from harness import boot_logs  # noqa: E402
from harness.inspections import book_boot  # noqa: E402
from kernelbook.bootlogs import boot_log_name, boots_in_files  # noqa: E402

PARALLEL_BOOTS = 2


def capture(out: Path, chapter: str, cmdline: str, memory: str) -> str | None:
    """Boot once; returns an error message or None."""
    image = harness.chapter_image(chapter)
    if not image.is_file():
        return f"{image} does not exist: run make first"
    config = book_boot(chapter, cmdline, memory)  # with the tests' monitor readings, if they read this boot
    if boot_logs.is_fresh(out, config):
        return None
    result = harness.boot(config)
    allowed = {"success"} if not cmdline else {"success", "failure"}
    name = boot_log_name(chapter, cmdline, memory)
    if result.outcome not in allowed:
        return f"boot of {name} ended with {result.outcome}, expected {' or '.join(sorted(allowed))}\n{result.describe()}"
    log = boot_logs.save(out, config, result)
    print(f"  BOOTLOG {log.relative_to(REPO) if log.is_relative_to(REPO) else log} ({result.outcome}, {result.elapsed:.1f}s)")
    return None


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    boots = boots_in_files([Path(p) for p in argv[1:]])
    known = harness.chapters()
    errors = [f"a boot-log directive names unknown chapter {c!r} (chapters: {', '.join(known)})" for c, *_ in boots if c not in known]
    with ThreadPoolExecutor(PARALLEL_BOOTS) as pool:
        errors += [e for e in pool.map(lambda b: capture(out, *b), [b for b in boots if b[0] in known]) if e]
    for error in errors:
        print(f"capture_logs.py: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
