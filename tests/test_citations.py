"""Every SDM citation in the prose and the code names a number of our one edition.

book/reference/specifications.md names the edition (325462-078US) and lists,
between ``<!-- citations`` and ``<!-- end citations -->``, every section, table
and figure we cite, with topic words. A citation passes when its number is in
that table and one of the row's topic words is within three lines of it, so a
renumbering cannot half-happen: ``11.12`` is the PAT in our edition and x2APIC
in later ones, and an x2APIC comment left at ``11.12.1`` fails on its words.

What counts as an SDM citation: the numbers after the word ``SDM`` up to the
closing parenthesis (``SDM Vol. 3A, 4.10.4.1``, ``SDM Vol. 3A §4.6 and Table
4-15``), and any ``§N.N`` or ``Table N-N`` with no UEFI, ACPI or HPET named
just before it. A citation without a volume is Volume 3A.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import harness

TABLE_PAGE = harness.REPO_ROOT / "book" / "reference" / "specifications.md"
SCANNED = ("chapters", "common", "book", "tests", "scripts", "bench", "README.md", "mk", "Makefile")
SUFFIXES = {".md", ".h", ".cpp", ".S", ".py", ".ld", ".mk", ""}
NEAR_LINES = 3
OTHER_SPECS = re.compile(r"UEFI|ACPI|HPET|PCI|PE/COFF|ELF|System V", re.I)

_SPAN = re.compile(r"\bSDM\b(?P<span>[^)]{0,160})", re.S)
_VOLUME = re.compile(r"\bVol\.?\s*(?P<vol>\d[A-D]?)", re.I)
_ITEM = re.compile(
    r"(?P<kind>Tables?|Figures?)(?:\s|//|#)+(?P<first>\d+-\d+)(?:\s*(?:to|and|/|–|-)\s*(?P<last>\d+-\d+))?"
    r"|§?(?P<section>(?<![\d.\-x])\d{1,2}(?:\.\d{1,2}){1,3}(?![\d.]*\d))")
_BARE = re.compile(r"§(?P<section>\d{1,2}(?:\.\d{1,2}){1,3})|(?P<kind>Tables?|Figures?)\s+(?P<first>\d+-\d+)")


@dataclass(frozen=True)
class Row:
    key: str          # "Vol. 3A 4.10.4.1", "Vol. 3A Table 4-16"
    title: str
    words: tuple[str, ...]


def table() -> dict[str, Row]:
    text = TABLE_PAGE.read_text()
    body = text.split("<!-- citations", 1)[1].split("<!-- end citations -->", 1)[0]
    rows = {}
    for line in body.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("number", "") or set(cells[0]) <= set("-"):
            continue
        rows[cells[0]] = Row(cells[0], cells[1], tuple(w.strip() for w in cells[2].split(",") if w.strip()))
    return rows


@dataclass(frozen=True)
class Citation:
    path: Path
    line: int          # 1-based
    key: str
    range_end: str = ""  # "Tables 4-15 to 4-20": both ends are cited, and any table between is the topic


def _key(volume: str, kind: str | None, number: str) -> str:
    if kind:
        kind = "Figure" if kind.lower().startswith("fig") else "Table"
        return f"Vol. {volume} {kind} {number}"
    return f"Vol. {volume} {number}"


def citations_in(path: Path, text: str) -> list[Citation]:
    line_of = lambda offset: text.count("\n", 0, offset) + 1  # noqa: E731
    found: list[Citation] = []
    covered: list[tuple[int, int]] = []
    for m in _SPAN.finditer(text):
        covered.append((m.start(), m.end()))
        span, start = m.group("span"), m.start("span")
        # The volume named last before an item is its volume ("Vol. 3A, 11.11.1; Vol. 4, Table 2-2").
        volumes = [(v.end(), v.group("vol").upper()) for v in _VOLUME.finditer(span)]
        if any(vol == "2A" for _, vol in volumes) and "INVLPG" in text[max(0, m.start() - 80):m.end()]:
            found.append(Citation(path, line_of(m.start()), "Vol. 2A INVLPG"))
        for item in _ITEM.finditer(span):
            vol = ([v for end, v in volumes if end <= item.start()] or ["3A"])[-1]
            at = line_of(start + item.start())
            if item.group("section"):
                found.append(Citation(path, at, _key(vol, None, item.group("section"))))
            else:
                first, last = item.group("first"), item.group("last")
                found.append(Citation(path, at, _key(vol, item.group("kind"), first),
                                      _key(vol, item.group("kind"), last) if last else ""))
                if last:
                    found.append(Citation(path, at, _key(vol, item.group("kind"), last)))
    for m in _BARE.finditer(text):
        if any(a <= m.start() < b for a, b in covered):
            continue
        before = text[max(0, m.start() - 120):m.start()]
        if OTHER_SPECS.search(before) and not re.search(r"\bSDM\b", before.split("\n\n")[-1]):
            continue
        if not re.search(r"\bSDM\b|§", before + m.group(0)) and not m.group("section"):
            continue  # a bare "Table 2-1" with no SDM or § anywhere near: not a citation
        number = m.group("section") or m.group("first")
        found.append(Citation(path, line_of(m.start()), _key("3A", m.group("kind"), number)))
    return found


def scanned_files() -> list[Path]:
    files = []
    for name in SCANNED:
        root = harness.REPO_ROOT / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        files += [p for p in paths if p.suffix in SUFFIXES and p != TABLE_PAGE and p != Path(__file__)
                  and "__pycache__" not in p.parts]
    return files


def all_citations() -> list[Citation]:
    out = []
    for path in scanned_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        out += citations_in(path, text)
    return out


def problems(citations: list[Citation], rows: dict[str, Row]) -> list[str]:
    bad = []
    lines_of: dict[Path, list[str]] = {}
    for c in citations:
        inside = c.path.is_relative_to(harness.REPO_ROOT)
        where = f"{c.path.relative_to(harness.REPO_ROOT) if inside else c.path.name}:{c.line}"
        row = rows.get(c.key)
        if row is None:
            bad.append(f"{where}: SDM {c.key} is not in book/reference/specifications.md's table")
            continue
        lines = lines_of.setdefault(c.path, c.path.read_text().splitlines() if c.path.exists() else [])
        near = "\n".join(lines[max(0, c.line - 1 - NEAR_LINES):c.line + NEAR_LINES]).lower()
        words = list(row.words)
        if c.range_end:  # a range is on topic when any table in it is
            chapter, first = c.key.rsplit(" ", 1)[1].split("-")
            last = int(c.range_end.rsplit("-", 1)[1])
            prefix = c.key.rsplit("-", 1)[0]
            words += [w for n in range(int(first), last + 1) if f"{prefix}-{n}" in rows for w in rows[f"{prefix}-{n}"].words]
        if not any(word.lower() in near for word in words):
            bad.append(f"{where}: SDM {c.key} is \"{row.title}\", but none of {list(row.words)} is near it")
    return bad


def test_the_table_names_one_edition_and_lists_numbers():
    text = TABLE_PAGE.read_text()
    assert "325462-078US" in text
    rows = table()
    assert len(rows) > 30
    assert all(row.words for row in rows.values()), "a row without topic words"


def test_every_sdm_citation_is_in_the_table_and_on_topic():
    citations = all_citations()
    assert len(citations) > 80, f"only {len(citations)} citations found: the scanner is broken"
    assert not problems(citations, table()), "\n".join(problems(citations, table()))


# ---- the scanner finds what it must -------------------------------------------------------


def _keys(text: str) -> list[str]:
    return [c.key for c in citations_in(Path("x.md"), text)]


@pytest.mark.parametrize("text, keys", [
    ("(SDM Vol. 3A, 4.10.4.1)", ["Vol. 3A 4.10.4.1"]),
    ("(SDM Vol. 3A §4.6 and Table 4-15; 2.2.1)", ["Vol. 3A 4.6", "Vol. 3A Table 4-15", "Vol. 3A 2.2.1"]),
    ("// (SDM\n// Vol. 3A, 6.15 \"Interrupt 8\")", ["Vol. 3A 6.15"]),
    ("(SDM Vol. 3A, 4.5, Tables 4-15 to 4-20)", ["Vol. 3A 4.5", "Vol. 3A Table 4-15", "Vol. 3A Table 4-20"]),
    ("(SDM Vol. 3A, 4.5, Tables 4-16 and 4-18)", ["Vol. 3A 4.5", "Vol. 3A Table 4-16", "Vol. 3A Table 4-18"]),
    ("(SDM Vol. 1 §3.3.7.1)", ["Vol. 1 3.3.7.1"]),
    ("// (SDM Vol. 3A, 7.2.3, Figure\n// 7-4): base", ["Vol. 3A 7.2.3", "Vol. 3A Figure 7-4"]),
    ("(SDM Vol. 3A, 11.11.1 and 11.11.2; Vol. 4, Table 2-2)", ["Vol. 3A 11.11.1", "Vol. 3A 11.11.2", "Vol. 4 Table 2-2"]),
    ("INVLPG m (SDM Vol. 2A, INVLPG; Vol. 3A §4.10.4.1)", ["Vol. 2A INVLPG", "Vol. 3A 4.10.4.1"]),
    ("the one the SDM requires (4.10.4.2).", ["Vol. 3A 4.10.4.2"]),
    ("optional (§4.10.4.3 \"Optional Invalidation\")", ["Vol. 3A 4.10.4.3"]),
    ("(UEFI 2.10 §7.2.1, Table 7-6)", []),
    ("(ACPI 6.5 §5.2.5–§5.2.8,\n§5.2.12; IA-PC HPET specification 1.0a §3.2.4)", []),
    ("value 0x0007040600070406 (SDM Vol. 3A, 11.12.4); only PA4", ["Vol. 3A 11.12.4"]),
])
def test_the_scanner_reads_each_citation_style(text, keys):
    assert _keys(text) == keys


def test_a_half_done_renumbering_fails(tmp_path):
    rows = table()
    stale = tmp_path / "stale.h"
    stale.write_text("// In x2APIC mode the registers are MSRs (SDM Vol. 3A, 11.12.1.2).\n"
                     "// IA32_APIC_BASE (SDM Vol. 3A, 11.4.4).\n")
    found = problems(citations_in(stale, stale.read_text()), rows)
    assert len(found) == 2 and "11.12.1.2" in found[0] and "11.4.4" in found[1]
    renumbered = tmp_path / "renumbered.h"
    renumbered.write_text("// In x2APIC mode the registers are MSRs (SDM Vol. 3A, 10.12.1.2).\n")
    assert not problems(citations_in(renumbered, renumbered.read_text()), rows)
    off_topic = tmp_path / "off_topic.h"
    off_topic.write_text("// The heap grows one frame at a time (SDM Vol. 3A, 11.12.3).\n")
    assert problems(citations_in(off_topic, off_topic.read_text()), rows)
