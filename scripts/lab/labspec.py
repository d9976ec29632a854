"""A chapter's lab: which pieces of the reference the reader writes, and how each is graded.

A lab is ``chapters/NN-name/lab.toml``. Each ``[[part]]`` names a region of a
source file, marked there with two comment lines::

    // lab:begin take-frame
    ... the reference code ...
    // lab:end take-frame

and gives the skeleton that replaces the region in the reader's workspace (it
compiles and refuses with ``TODO(lab NAME)``), its points, the rule it teaches,
hints in order, and how it is graded: ``host`` is a GoogleTest filter over the
host tests the lab links (``host_tests``), ``boot`` a pytest ``-k`` expression
over the chapter's boot tests. ``[[part.bug]]`` entries are planted bugs (a
text replacement inside the region) that ``make test-labs`` grades to prove
the part catches them. This module only reads; it has no side effects.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LAB_FILE = "lab.toml"

# The marker lines; any comment leader, like the book's markers.
MARKER_RE = re.compile(r"^\s*(?://|/\*|#|;)\s*lab:(begin|end)\s+([A-Za-z0-9_.-]+)")


class LabError(Exception):
    """A lab file or a marked source that cannot be used, with what is wrong."""


@dataclass(frozen=True)
class Bug:
    name: str
    old: str   #: text inside the region
    new: str   #: what it becomes


@dataclass(frozen=True)
class Part:
    name: str
    file: str            #: repository-relative path of the marked source
    points: int
    rule: str
    hints: tuple[str, ...]
    skeleton: str
    host: str = ""       #: GoogleTest filter
    boot: str = ""       #: pytest -k expression over tests/test_NN_*.py
    bugs: tuple[Bug, ...] = ()


@dataclass(frozen=True)
class Lab:
    chapter: str
    summary: str
    host_tests: tuple[str, ...]
    parts: tuple[Part, ...] = field(default_factory=tuple)

    def files(self) -> list[str]:
        return sorted({part.file for part in self.parts})

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise LabError(f"{self.chapter}: no part {name!r}")


def chapters_with_labs(root: Path = REPO_ROOT) -> list[str]:
    return sorted(path.parent.name for path in (root / "chapters").glob(f"*/{LAB_FILE}"))


def _need(table: dict, key: str, kind: type, where: str):
    if key not in table:
        raise LabError(f"{where}: missing {key!r}")
    if not isinstance(table[key], kind):
        raise LabError(f"{where}: {key!r} must be a {kind.__name__}, is {table[key]!r}")
    return table[key]


def load(chapter: str, root: Path = REPO_ROOT) -> Lab:
    path = root / "chapters" / chapter / LAB_FILE
    if not path.is_file():
        have = ", ".join(chapters_with_labs(root)) or "none"
        raise LabError(f"chapter {chapter} has no lab ({path.relative_to(root)}); chapters with labs: {have}")
    where = str(path.relative_to(root))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise LabError(f"{where}: {error}") from None
    parts = []
    for number, raw in enumerate(_need(data, "part", list, where), start=1):
        at = f"{where} part {number}"
        name = _need(raw, "name", str, at)
        at = f"{where} part {name}"
        bugs = tuple(Bug(_need(b, "name", str, f"{at} bug"), *_need(b, "replace", list, f"{at} bug"))
                     for b in raw.get("bug", []))
        part = Part(name=name, file=_need(raw, "file", str, at), points=_need(raw, "points", int, at),
                    rule=_need(raw, "rule", str, at).strip(), hints=tuple(_need(raw, "hints", list, at)),
                    skeleton=_need(raw, "skeleton", str, at), host=raw.get("host", ""), boot=raw.get("boot", ""),
                    bugs=bugs)
        if not part.host and not part.boot:
            raise LabError(f"{at}: grades nothing (give host = a GoogleTest filter and/or boot = a pytest -k)")
        if not part.hints:
            raise LabError(f"{at}: give at least one hint")
        if "TODO(lab " + name + ")" not in part.skeleton:
            raise LabError(f"{at}: the skeleton must refuse with TODO(lab {name})")
        parts.append(part)
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise LabError(f"{where}: part names repeat: {names}")
    return Lab(chapter=chapter, summary=_need(data, "summary", str, where).strip(),
               host_tests=tuple(_need(data, "host_tests", list, where)), parts=tuple(parts))


def region(text: str, name: str, where: str) -> tuple[int, int]:
    """Line indexes (0-based) of the ``lab:begin NAME`` and ``lab:end NAME`` lines of ``text``."""
    begin = end = None
    for index, line in enumerate(text.splitlines()):
        match = MARKER_RE.match(line)
        if match and match[2] == name:
            if match[1] == "begin":
                if begin is not None:
                    raise LabError(f"{where}: lab:begin {name} twice")
                begin = index
            elif begin is None:
                raise LabError(f"{where}: lab:end {name} before lab:begin {name}")
            else:
                end = index
                break
    if begin is None or end is None:
        raise LabError(f"{where}: no lab:begin {name} / lab:end {name} pair")
    return begin, end


def region_body(text: str, name: str, where: str) -> str:
    begin, end = region(text, name, where)
    return "".join(text.splitlines(keepends=True)[begin + 1:end])


def replace_region(text: str, name: str, body: str, where: str) -> str:
    """``text`` with the lines between the markers of ``name`` replaced by ``body`` (markers kept)."""
    begin, end = region(text, name, where)
    lines = text.splitlines(keepends=True)
    if body and not body.endswith("\n"):
        body += "\n"
    return "".join(lines[:begin + 1]) + body + "".join(lines[end:])


def with_bug(text: str, part: Part, bug: Bug, where: str) -> str:
    """``text`` with ``bug`` planted inside ``part``'s region; the replaced text must occur there once."""
    body = region_body(text, part.name, where)
    count = body.count(bug.old)
    if count != 1:
        raise LabError(f"{where}: bug {bug.name} of part {part.name}: {bug.old!r} occurs {count} times in the region")
    return replace_region(text, part.name, body.replace(bug.old, bug.new), where)
