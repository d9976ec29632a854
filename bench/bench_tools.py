"""The parsing and the arithmetic of ``make bench``, kept apart from anything
that boots, builds or times, so ``tests/test_bench_tools.py`` checks them on
canned inputs in milliseconds.

* :class:`Row` and :func:`format_table` / :func:`write_csv` / :func:`write_json`:
  the one results table (name, measured, reference, ratio, target, met).
* :func:`median`, :func:`ratio`, :func:`ratio_interval`: the statistics
  (medians of interleaved runs, and how far their ratio could move);
  :func:`split_boot`, :func:`split_ratio`: the same ratio with the firmware
  part that every boot shares estimated once, from all boots.
* :func:`callgrind_total`, :func:`parse_kv`: reading callgrind's output file
  and ``bench/mapping_cost``'s result line.
* :func:`footprint`: the page-table frames a chapter's final address space
  uses, from its boot log, against the minimum for the same layout, and the
  same layout under 2 MiB-only and 4 KiB-only policies.
"""

from __future__ import annotations

import csv
import json
import random
import re
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "tests"))

from harness import paging_model  # noqa: E402
from harness.log import LogRecord, int_field, size_field  # noqa: E402

KiB, MiB, GiB = paging_model.KiB, paging_model.MiB, paging_model.GiB
PAGE = paging_model.PAGE

#: Where the phys-offset window starts when a log line does not say (address_space_layout.h).
PHYS_WINDOW_BASE = 0xFFFF_8000_0000_0000

# ---------------------------------------------------------------------------
# The results table
# ---------------------------------------------------------------------------

COLUMNS = ("section", "name", "measured", "reference", "ratio", "unit", "target", "met", "note")


@dataclass
class Row:
    """One line of the results table.

    ``ratio`` is measured / reference. ``met`` is ``"yes"`` / ``"no"`` when the
    row has a target, ``"n/a"`` when it only informs.
    """

    section: str
    name: str
    measured: float | int | None
    reference: float | int | None = None
    unit: str = ""
    target: str = ""
    met: str = "n/a"
    note: str = ""
    ratio: float | None = field(default=None)

    def __post_init__(self) -> None:
        if self.ratio is None:
            self.ratio = ratio(self.measured, self.reference)


def ratio(measured, reference) -> float | None:
    """measured / reference, or ``None`` when either is missing or the reference is 0."""
    if measured is None or reference is None or reference == 0:
        return None
    return measured / reference


def median(values: Iterable[float]) -> float:
    values = list(values)
    if not values:
        raise ValueError("median of no values")
    return statistics.median(values)


def _bootstrap(statistic, samples: Sequence[Sequence[float]], level: float, resamples: int,
               seed: int) -> tuple[float, float]:
    """The middle ``level`` of ``statistic(*resampled)`` over ``resamples``
    draws, each sample list resampled with replacement on its own."""
    if any(not values for values in samples):
        raise ValueError("interval of no values")
    rng = random.Random(seed)
    values = sorted(statistic(*(rng.choices(v, k=len(v)) for v in samples)) for _ in range(resamples))
    tail = (1 - level) / 2
    return values[int(tail * (resamples - 1))], values[int((1 - tail) * (resamples - 1))]


def ratio_interval(measured: Sequence[float], reference: Sequence[float], level: float = 0.9,
                   resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The bootstrap interval of median(measured) / median(reference): both
    sides' runs resampled with replacement ``resamples`` times, and the middle
    ``level`` of the ratios that gives. It says how far the same number of
    boots could put the ratio on this machine, which a single ratio cannot:
    here one boot's firmware time alone varies by about 7 %. The seed is fixed,
    so the same runs always give the same interval."""
    return _bootstrap(lambda m, r: statistics.median(m) / statistics.median(r),
                      (measured, reference), level, resamples, seed)


def split_boot(shared: Sequence[float], own: Sequence[float], floor_own: Sequence[float]) -> tuple[float, float]:
    """A subject's boot and the floor's, each with the firmware's common part
    taken from every boot.

    Each boot is split at a line that every boot passes in the same way
    (``shared``: the seconds up to it, from all boots, the floor's and every
    chapter's); ``own`` and ``floor_own`` are the seconds from that line to the
    subject's last line, for one subject and for the floor. Both sides get
    the same firmware estimate, so its boot-to-boot spread, which is most of
    the spread of a whole boot, no longer decides the verdict:
    (median(shared) + median(own), median(shared) + median(floor_own))."""
    firmware = median(shared)
    return firmware + median(own), firmware + median(floor_own)


def split_ratio(shared: Sequence[float], own: Sequence[float], floor_own: Sequence[float]) -> float:
    """The boot ratio of :func:`split_boot`: subject over floor."""
    subject, floor = split_boot(shared, own, floor_own)
    return subject / floor


def split_ratio_interval(shared: Sequence[float], own: Sequence[float], floor_own: Sequence[float],
                         level: float = 0.9, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The bootstrap interval of :func:`split_ratio`, as :func:`ratio_interval`."""
    return _bootstrap(split_ratio, (shared, own, floor_own), level, resamples, seed)


def met_at_most(value: float | None, limit: float) -> str:
    """``"yes"`` if value <= limit, ``"no"`` if above, ``"n/a"`` if not measured."""
    if value is None:
        return "n/a"
    return "yes" if value <= limit else "no"


def _show(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if unit == "s":
            return f"{value:.2f}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int) and abs(value) >= 10000:
        return f"{value:,}"
    return str(value)


def _show_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}x"
    if value < 0.001:
        return f"{value:.2e}x"
    return f"{value:.3f}x"


def table_cells(row: Row) -> list[str]:
    return [
        row.section,
        row.name,
        _show(row.measured, row.unit),
        _show(row.reference, row.unit),
        _show_ratio(row.ratio),
        row.unit,
        row.target or "-",
        row.met,
        row.note,
    ]


def format_table(rows: Sequence[Row]) -> str:
    """The rows as one fixed-width text table, a header line first."""
    cells = [list(COLUMNS)] + [table_cells(row) for row in rows]
    # The note is last and left unpadded so long notes do not widen the table.
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS) - 1)]
    lines = []
    for index, line in enumerate(cells):
        padded = [line[i].ljust(widths[i]) if i < 2 or i >= 5 else line[i].rjust(widths[i]) for i in range(len(widths))]
        lines.append("  ".join(padded + [line[-1]]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(lines)


def write_csv(rows: Sequence[Row], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in rows:
            data = asdict(row)
            writer.writerow(["" if data[c] is None else data[c] for c in COLUMNS])


def write_json(rows: Sequence[Row], path: Path, meta: dict | None = None) -> None:
    document = {"meta": meta or {}, "rows": [{c: asdict(row)[c] for c in COLUMNS} for row in rows]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------
# Callgrind and mapping_cost output
# ---------------------------------------------------------------------------


def callgrind_total(text: str) -> int:
    """Instructions (the first event, Ir) counted in a callgrind output file.

    Prefers ``totals:``; falls back to ``summary:`` (older valgrinds write only
    one of them). With ``--instr-atstart=no`` only what ran between the client
    requests is counted."""
    totals = re.search(r"^totals:\s*(\d+)", text, re.MULTILINE)
    if totals:
        return int(totals.group(1))
    summary = re.search(r"^summary:\s*(\d+)", text, re.MULTILINE)
    if summary:
        return int(summary.group(1))
    raise ValueError("no totals: or summary: line in callgrind output")


def parse_kv(line: str) -> dict[str, str]:
    """``"case=x mapper=y bytes=3"`` -> ``{"case": "x", "mapper": "y", "bytes": "3"}``."""
    return dict(word.split("=", 1) for word in line.split() if "=" in word)


# ---------------------------------------------------------------------------
# Page-table footprint
# ---------------------------------------------------------------------------

#: Policies the footprint is computed under: the kernel's own (1 GiB where the
#: CPU has it, else 2 MiB, 4 KiB at edges), 2 MiB at most, 4 KiB only. Regions
#: whose own policy is 4 KiB (kernel image, MMIO registers) stay 4 KiB in all.
POLICIES = ("policy", "2m", "4k")

#: Phases whose layout the model knows; any other phase in a log makes the
#: minimum unknown instead of silently wrong.
KNOWN_PHASES = {
    "identity_map_low_memory",
    "map_kernel_image",
    "map_phys_offset_regions",
    "map_mmio_devices",
    "map_framebuffer",
    "create_temporary_window",
    "map_kernel_stacks",
    "create_heap",
    "share_kernel_half",
}


class _Records:
    """Just enough of a BootResult for :func:`paging_model.ram_runs`."""

    def __init__(self, records: Sequence[LogRecord]):
        self.records = list(records)

    def records_for(self, subsystem: str) -> list[LogRecord]:
        return [r for r in self.records if r.subsystem == subsystem]


def _pages_4k(va: int, pa: int, length: int) -> list[tuple[int, int, int]]:
    return [(va + off, pa + off, PAGE) for off in range(0, length, PAGE)]


def _large_region(runs, offset: int, policy: str, one_gib: bool, max_2m: bool = False):
    """Leaves for runs mapped at va = pa + offset under one of :data:`POLICIES`."""
    if policy == "4k":
        return [page for start, end in runs for page in _pages_4k(start + offset, start, end - start)]
    allow_1g = one_gib and policy == "policy" and not max_2m
    return paging_model.predicted_pages(runs, allow_1g, offset)


def phases(records: Sequence[LogRecord]) -> list[LogRecord]:
    return [r for r in records if r.subsystem == "paging" and r.event.startswith("phase ")]


def layout_pages(records: Sequence[LogRecord], policy: str, one_gib: bool) -> tuple[list, list[str]]:
    """(va, pa, size) of every leaf of the chapter's final address space as
    the layout in its log would be mapped under ``policy``, and the names of
    phases the model does not know.

    The layout comes from what the kernel printed about its inputs, not from
    the page counts it printed: the ``[memmap] range`` lines (identity map and
    window), the kernel sections' ``map section=`` lines, the MMIO devices'
    and framebuffer's ``map`` lines, the temporary window's address, the IST
    stacks' ``stack`` lines and the heap's first pages (``create_heap`` as
    created: what the heap grows into later is not counted on either side).
    A removed identity map (``identity map removed``) is not in the final space.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r} not one of {POLICIES}")
    pages: list[tuple[int, int, int]] = []
    unknown: list[str] = []
    shim = _Records(records)
    identity_removed = any(r.subsystem == "paging" and r.event == "identity map removed" for r in records)
    for phase in phases(records):
        name = phase.event.split()[1]
        if name == "identity_map_low_memory":
            if not identity_removed:  # page 0 is never mapped
                pages += _large_region(paging_model.ram_runs(shim, floor=PAGE), 0, policy, one_gib)
        elif name == "map_phys_offset_regions":
            base = int_field(phase, "base") if "base" in phase.fields else PHYS_WINDOW_BASE
            pages += _large_region(paging_model.ram_runs(shim), base, policy, one_gib)
        elif name == "map_kernel_image":
            for r in records:
                if r.subsystem == "paging" and r.event == "map" and "section" in r.fields:
                    pages += _pages_4k(int_field(r, "va"), int_field(r, "pa"), size_field(r, "size"))
        elif name == "map_mmio_devices":
            for r in records:
                if r.subsystem == "mmio" and r.event.startswith("map ") and r.event != "map framebuffer":
                    pages += _pages_4k(int_field(r, "va"), int_field(r, "pa"), size_field(r, "size"))
        elif name == "map_framebuffer":
            for r in records:
                if r.subsystem == "mmio" and r.event == "map framebuffer":
                    va, pa, size = int_field(r, "va"), int_field(r, "pa"), size_field(r, "size")
                    size = (size + PAGE - 1) // PAGE * PAGE
                    pages += _large_region([(pa, pa + size)], va - pa, policy, one_gib, max_2m=True)
        elif name == "create_temporary_window":
            # A page table made up front for one 4 KiB slot: the tables of one 4 KiB leaf.
            pages.append((int_field(phase, "va"), 0, PAGE))
        elif name == "map_kernel_stacks":
            # Each IST stack in 4 KiB pages (its guard page below it stays unmapped).
            for r in records:
                if r.subsystem == "paging" and r.event == "stack":
                    pages += _pages_4k(int_field(r, "va"), 0, size_field(r, "size"))
        elif name == "create_heap":
            # The heap's first pages, 4 KiB each, above its unmapped guard page.
            pages += _pages_4k(int_field(phase, "va"), 0, size_field(phase, "bytes"))
        elif name == "share_kernel_half":
            pass  # maps nothing: its tables are counted by kernel_half_tables()
        else:
            unknown.append(name)
    return pages, unknown


def tables_for(pages) -> int:
    """Table frames for these leaves, the PML4 included."""
    return 1 + paging_model.tables_needed(pages)


def kernel_half_tables(records: Sequence[LogRecord], pages) -> int:
    """The PDPTs chapter 12's ``share_kernel_half`` adds: one for each of the
    256 upper PML4 slots that no leaf of ``pages`` uses (0 without the phase)."""
    if not any(p.event == "phase share_kernel_half" for p in phases(records)):
        return 0
    used = {(va >> 39) & 0x1FF for va, _, _ in pages if va >= 1 << 63}
    return 256 - len(used)


def measured_tables(records: Sequence[LogRecord]) -> tuple[int | None, str]:
    """Table frames the kernel's final address space uses, as the kernel
    counted them, and how that number was read.

    ``[frames] page tables frames=N`` when printed (PML4 included), else
    1 + the ``tables=`` of every phase; minus ``tables-released=`` when the
    kernel gave tables back (chapter 08's identity map)."""
    frames_line = next((r for r in records if r.subsystem == "frames" and r.event == "page tables"), None)
    phase_records = phases(records)
    if frames_line is not None:
        total, how = int_field(frames_line, "frames"), "frames="
    elif phase_records and all("tables" in r.fields for r in phase_records):
        total, how = 1 + sum(int_field(r, "tables") for r in phase_records), "1+phase tables="
    else:
        return None, "no table count in the log"
    released = sum(int_field(r, "tables-released") for r in records if "tables-released" in r.fields)
    if released:
        total -= released
        how += f" - released {released}"
    return total, how


@dataclass
class Footprint:
    measured: int | None
    how: str
    minimum: int | None        #: under the kernel's policy
    only_2m: int | None
    only_4k: int | None
    unknown_phases: list[str]


def cpu_has_1gib(records: Sequence[LogRecord], default: bool = True) -> bool:
    """From ``[paging] cpu … page1gb=yes|no`` when printed, else ``default``
    (the bench boots ``-cpu max``, which has 1 GiB pages)."""
    for r in records:
        if r.subsystem == "paging" and r.event == "cpu" and "page1gb" in r.fields:
            return r.fields["page1gb"] == "yes"
    return default


def footprint(records: Sequence[LogRecord], one_gib: bool | None = None) -> Footprint:
    if one_gib is None:
        one_gib = cpu_has_1gib(records)
    measured, how = measured_tables(records)
    counts = {}
    unknown: list[str] = []
    for policy in POLICIES:
        pages, unknown = layout_pages(records, policy, one_gib)
        counts[policy] = None if unknown or not pages else tables_for(pages) + kernel_half_tables(records, pages)
    return Footprint(measured, how, counts["policy"], counts["2m"], counts["4k"], unknown)


# ---------------------------------------------------------------------------
# Demand paging (chapter 13): the sparse program, lazy against eager
# ---------------------------------------------------------------------------


@dataclass
class SparseCost:
    """What chapter 13's ``sparse`` program paid for its reservation: the
    frames munmap gave back (pages it touched plus tables only they needed),
    and what mapping the whole reservation up front would have cost in the
    same 4 KiB pages (a frame per page, a PT per 2 MiB, a PD per 1 GiB; the
    PDPT is the text's)."""

    reserved: int       #: bytes of the mmap
    touched: int        #: pages munmap found mapped
    lazy_frames: int    #: touched + the tables munmap freed
    eager_frames: int   #: the model for the whole reservation


def sparse_cost(records: Sequence[LogRecord], program: str = "sparse") -> SparseCost | None:
    """From a chapter 13 boot: the program's ``[vm] mmap`` and ``[vm] munmap`` lines."""
    mmap = next((r for r in records if r.subsystem == "vm" and r.event == "mmap" and r.fields.get("name") == program), None)
    munmap = next((r for r in records if r.subsystem == "vm" and r.event == "munmap"
                   and r.fields.get("name") == program), None)
    if mmap is None or munmap is None:
        return None
    reserved = int_field(mmap, "length")
    pages = int_field(munmap, "pages")
    eager = reserved // 4096 + -(-reserved // (2 << 20)) + -(-reserved // (1 << 30))
    return SparseCost(reserved, pages, pages + int_field(munmap, "tables"), eager)


# ---------------------------------------------------------------------------
# Copy-on-write (chapter 14): a fork, shared against copied
# ---------------------------------------------------------------------------

#: fork_cost's modes (bench/fork_cost.cpp) and the pages each copies.
FORK_MODES = ("cow", "cow-write-all", "eager")


def fork_result(line: str) -> dict[str, int | str]:
    """One line of bench/fork_cost, its numbers as ints, checked: the frames a
    fork took are the child's tables plus the pages it copied, copy-on-write
    copies nothing at the fork and every page once each page is written, and
    the child saw every page. A line that breaks one raises ValueError."""
    fields = parse_kv(line)
    if fields.get("case") != "fork" or fields.get("mode") not in FORK_MODES:
        raise ValueError(f"not a fork_cost line: {line!r}")
    try:
        result: dict[str, int | str] = {k: (v if k in ("case", "mode") else int(v)) for k, v in fields.items()}
    except ValueError:
        raise ValueError(f"a field of {line!r} is not a number") from None
    pages, copied = result["pages"], result["copied"]
    if result["frames"] != result["tables"] + copied:
        raise ValueError(f"frames={result['frames']} is not tables + copied in {line!r}")
    if copied != (0 if result["mode"] == "cow" else pages) or result["checked"] != pages:
        raise ValueError(f"mode {result['mode']} copied {copied} and checked {result['checked']} of {pages} pages")
    return result


@dataclass
class ForkFamilyCost:
    """What one program's forks cost in a chapter 14 boot, from its log: the
    frames copy-on-write used (the children's tables, then a frame per page
    written while shared, in either process), against an eager fork that
    copies every page the parent owns at the fork (the same tables; borrowed
    text is shared either way)."""

    forks: int
    owned: int          #: pages the parents owned at their forks (cow + shared-read-only)
    tables: int         #: the children's tables
    copied: int         #: pages copied by write faults, in the whole family
    taken_over: int     #: write faults that found the last mapping: no copy

    @property
    def lazy_frames(self) -> int:
        return self.tables + self.copied

    @property
    def eager_frames(self) -> int:
        return self.tables + self.owned


def fork_family_cost(records: Sequence[LogRecord], program: str = "fork-cow") -> ForkFamilyCost | None:
    """From a chapter 14 boot: the program's ``[cow] fork`` lines and its ``[cow] family done`` line."""
    forks = [r for r in records if r.subsystem == "cow" and r.event == "fork" and r.fields.get("name") == program]
    done = next((r for r in records if r.subsystem == "cow" and r.event == "family done"
                 and r.fields.get("name") == program), None)
    if not forks or done is None:
        return None
    return ForkFamilyCost(
        forks=len(forks),
        owned=sum(int_field(r, "cow") + int_field(r, "shared-read-only") for r in forks),
        tables=sum(int_field(r, "child-tables") for r in forks),
        copied=int_field(done, "copied"),
        taken_over=int_field(done, "taken-over"),
    )


FAULT_MODES = ("lazy", "eager")


def fault_result(line: str) -> dict[str, int | str]:
    """One line of bench/fault_cost, its numbers as ints, checked: every frame
    taken is a page filled or a table, and a lazy run's pages, one per 2 MiB
    at most, need at least as many tables as an eager run's. A line that
    breaks one raises ValueError."""
    fields = parse_kv(line)
    if fields.get("case") != "fault" or fields.get("mode") not in FAULT_MODES:
        raise ValueError(f"not a fault_cost line: {line!r}")
    try:
        result: dict[str, int | str] = {k: (v if k in ("case", "mode") else int(v)) for k, v in fields.items()}
    except ValueError:
        raise ValueError(f"a field of {line!r} is not a number") from None
    if result["frames"] != result["pages"] + result["tables"]:
        raise ValueError(f"frames={result['frames']} is not pages + tables in {line!r}")
    least = 1 + -(-result["pages"] // 512)  # a PD, and a PT per 512 consecutive pages
    if result["tables"] < least:
        raise ValueError(f"tables={result['tables']} is fewer than {result['pages']} pages need in {line!r}")
    return result

@dataclass(frozen=True)
class ShootdownCost:
    """Chapter 15's batching line: the same pages unmapped on every CPU."""

    pages: int
    cpus: int
    ipis_batched: int    #: one batch for all the pages
    ipis_per_page: int   #: one batch per page


def shootdown_cost(records: Sequence[LogRecord]) -> ShootdownCost | None:
    """From a chapter 15 boot: its ``[tlb] batching`` line."""
    line = next((r for r in records if r.subsystem == "tlb" and r.event == "batching"), None)
    if line is None:
        return None
    return ShootdownCost(int_field(line, "pages"), int_field(line, "cpus"), int_field(line, "ipis-batched"),
                         int_field(line, "ipis-per-page"))
