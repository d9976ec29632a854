#!/usr/bin/python3
"""Boot every chapter the book quotes, once per command line, and keep the logs.

Usage: scripts/book/capture_logs.py OUT_DIR MARKDOWN_FILE_OR_DIR...

Finds every directive that reads a boot (``{bootlog}``, ``{address-space}``,
``{page-walk}``: ``kernelbook.bootlogs.LOG_DIRECTIVES``) in the given Markdown
(the book's pages and the chapter READMEs they include), boots each named (chapter, command
line) pair with the test harness (the same QEMU command line as ``make run``
and the tests), and writes, per boot:

* ``OUT_DIR/<name>.log``         our ``[LEVEL subsystem]`` lines, as printed
* ``OUT_DIR/<name>.serial.log``  the whole serial output, escape codes removed
* ``OUT_DIR/<name>.json``        outcome, command line, QEMU settings, duration

A log newer than the chapter's disk image, captured on the same firmware, is
kept as it is. A boot without a
command line must end in success; a boot with one may also end in the failure
code (``test.fail=...``); any other end (timeout, reset, QEMU error) fails.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "book" / "_ext"))

import harness  # noqa: E402
from kernelbook.bootlogs import boot_log_name, boots_in_files  # noqa: E402

PARALLEL_BOOTS = 2


def capture(out: Path, chapter: str, cmdline: str) -> str | None:
    """Boot once; returns an error message or None."""
    name = boot_log_name(chapter, cmdline)
    log, serial, meta = out / f"{name}.log", out / f"{name}.serial.log", out / f"{name}.json"
    image = harness.chapter_image(chapter)
    if not image.is_file():
        return f"{image} does not exist: run make first"
    firmware = str(harness.OVMF_CODE)
    if (log.is_file() and meta.is_file() and log.stat().st_mtime > image.stat().st_mtime
            and json.loads(meta.read_text(encoding="utf-8")).get("firmware") == firmware):
        return None
    config = harness.BootConfig(chapter=chapter, cmdline=cmdline)
    result = harness.boot(config)
    allowed = {"success"} if not cmdline else {"success", "failure"}
    if result.outcome not in allowed:
        return f"boot of {name} ended with {result.outcome}, expected {' or '.join(sorted(allowed))}\n{result.describe()}"
    serial.write_text(result.clean_log, encoding="utf-8")
    log.write_text("".join(f"{record}\n" for record in result.records), encoding="utf-8")
    meta.write_text(json.dumps({
        "chapter": chapter, "cmdline": cmdline, "outcome": result.outcome, "exit_status": result.exit_status,
        "memory": config.memory, "cpu": config.cpu, "machine": config.machine, "firmware": firmware, "elapsed": round(result.elapsed, 1),
    }, indent=2) + "\n", encoding="utf-8")
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
    errors = [f"a boot-log directive names unknown chapter {c!r} (chapters: {', '.join(known)})" for c, _ in boots if c not in known]
    with ThreadPoolExecutor(PARALLEL_BOOTS) as pool:
        errors += [e for e in pool.map(lambda b: capture(out, *b), [b for b in boots if b[0] in known]) if e]
    for error in errors:
        print(f"capture_logs.py: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
