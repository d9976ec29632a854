"""Named regions in source files: the only way the book quotes code.

A region is delimited by two comment lines in a source file::

    // book:begin exit-boot-services
    ... the code the book shows ...
    // book:end exit-boot-services

Any comment leader works (``//``, ``/*``, ``#``, ``;``), so the same markers
serve C++, assembly, linker scripts and makefiles. Names are unique within a
file; regions may nest or overlap, and marker lines of other regions inside an
excerpt are left out of it. These functions are pure (no Sphinx), so the
tests can call them directly.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

MARKER_RE = re.compile(r"(?://|/\*|#|;)\s*book:(begin|end)\s+([A-Za-z0-9_.-]+)")
# A lab's markers (scripts/lab/labspec.py) are for the lab tools, not the
# reader of the book: excerpts and diffs leave them out like their own.
LAB_MARKER_RE = re.compile(r"(?://|/\*|#|;)\s*lab:(begin|end)\s+([A-Za-z0-9_.-]+)")
# Files searched for markers (below the configured source roots).
SOURCE_SUFFIXES = (".cpp", ".h", ".hpp", ".S", ".s", ".ld", ".mk", ".py", ".sh")


@dataclass(frozen=True)
class Region:
    path: str        #: repository-relative path
    name: str
    begin_line: int  #: 1-based line of the begin marker
    end_line: int    #: 1-based line of the end marker


@dataclass
class MarkerScan:
    regions: dict[tuple[str, str], Region] = field(default_factory=dict)
    errors: list[tuple[str, int, str]] = field(default_factory=list)  #: (path, line, message)


def scan_text(path: str, text: str, scan: MarkerScan) -> None:
    """Add the regions of one file to ``scan``; unbalanced markers become errors."""
    open_at: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, name in MARKER_RE.findall(line):
            if kind == "begin":
                if name in open_at or (path, name) in scan.regions:
                    scan.errors.append((path, number, f"book marker {name!r} begins twice in {path}"))
                else:
                    open_at[name] = number
            elif name not in open_at:
                scan.errors.append((path, number, f"book:end {name} without a book:begin {name} in {path}"))
            else:
                scan.regions[(path, name)] = Region(path, name, open_at.pop(name), number)
    for name, number in open_at.items():
        scan.errors.append((path, number, f"book:begin {name} is never closed by book:end {name} in {path}"))


def source_files(repo_root: Path, roots: list[str]) -> list[Path]:
    files = []
    for root in roots:
        base = repo_root / root
        if base.is_file():
            files.append(base)
            continue
        files += [p for p in sorted(base.rglob("*")) if p.is_file() and p.suffix in SOURCE_SUFFIXES]
    return files


def scan_tree(repo_root: Path, roots: list[str]) -> MarkerScan:
    scan = MarkerScan()
    for file in source_files(repo_root, roots):
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        scan_text(file.relative_to(repo_root).as_posix(), text, scan)
    return scan


def is_marker_line(line: str) -> bool:
    """A book or lab marker: a comment line that is never shown as code."""
    return bool(MARKER_RE.search(line) or LAB_MARKER_RE.search(line))


def excerpt_lines(text: str, region: Region) -> tuple[str, int]:
    """The region's code, dedented, without marker lines; and its first line number."""
    lines = text.splitlines()[region.begin_line : region.end_line - 1]
    first = region.begin_line + 1
    # Nested markers of other regions are not code: drop them, but only at the
    # edges keep line numbers exact (an inner marker line in the middle is blanked).
    while lines and is_marker_line(lines[0]):
        lines, first = lines[1:], first + 1
    while lines and is_marker_line(lines[-1]):
        lines = lines[:-1]
    lines = ["" if is_marker_line(line) else line for line in lines]
    return textwrap.dedent("\n".join(lines)), first
