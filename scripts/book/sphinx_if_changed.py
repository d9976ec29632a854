#!/usr/bin/python3
"""Run Sphinx for ``make book`` unless nothing it reads has changed since the last build.

Usage: scripts/book/sphinx_if_changed.py STAMP -- SPHINX_ARGUMENTS...

The book is always built from scratch (``sphinx -E``): its directives read C++
sources, boot logs, dependency files and each other's pages, more than Sphinx's
own change tracking sees. A full build takes seconds, and ``make test`` asks for
one every time; so this skips it when the same inputs were already built. The
inputs are every file git tracks or would track (not ignored), the captured
boot logs and the compiler's dependency files, each by path, size and modification time, plus the Sphinx
command line. STAMP holds their digest after a successful build.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def inputs() -> list[Path] | None:
    """Every file the book may read, or None when git cannot say."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True)
    if listed.returncode != 0:
        return None
    files = [REPO / name for name in listed.stdout.decode("utf-8", "replace").split("\0") if name]
    build = REPO / "build"
    files += sorted((build / "book" / "logs").glob("*"))
    files += sorted(build.glob("*/obj/*.d")) + sorted(build.glob("loader/*.d"))
    return files


def digest(files: list[Path], arguments: list[str]) -> str:
    h = hashlib.sha256("\0".join(arguments).encode())
    for path in files:
        try:
            stat = path.stat()
            h.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except FileNotFoundError:
            h.update(f"{path}\0missing\n".encode())
    return h.hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    stamp, arguments = Path(argv[0]), argv[2:]
    files = inputs()
    current = digest(files, arguments) if files is not None else None
    if current is not None and stamp.is_file() and stamp.read_text().strip() == current:
        print("  SPHINX  up to date")
        return 0
    stamp.unlink(missing_ok=True)
    done = subprocess.run(arguments)
    if done.returncode == 0 and current is not None:
        stamp.write_text(current + "\n")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
