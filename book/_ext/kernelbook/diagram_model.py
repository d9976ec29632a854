"""The boot log read as a model for the book's diagrams: the regions of the
kernel's virtual address space (``{address-space}``) and one 4-level (or
5-level) page walk (``{page-walk}``). :mod:`kernelbook.diagram_svg` draws them.

Everything in the model comes from ``[LEVEL subsystem] event key=value`` lines
of a real boot; nothing here knows an address of its own. The model is checked
against the log as it is built: a phase's detail lines must be as many as the
phase line says and add up to its totals, a phase this module does not know
is an error, and so is a walk whose offset does not match its physical
address. Each check raises :class:`DiagramError` with a message that names
the line that is missing or wrong, and the directive turns that into a build
error, so a diagram cannot go stale while the log changes under it.

The functions here are pure (no Sphinx): :func:`parse_log`,
:func:`address_space`, :func:`page_walk`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# ---------------------------------------------------------------------------
# Reading the log: with the one reader of the log format, tests/harness/log.py
# ---------------------------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from harness.log import int_value, iter_records, size_value  # noqa: E402

_UNITS = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]

KIB4, MIB2, GIB1 = 1 << 12, 1 << 21, 1 << 30
PAGE_SIZES = {"4KiB": KIB4, "2MiB": MIB2, "1GiB": GIB1}


class DiagramError(Exception):
    """The log lacks a line the diagram needs, or contradicts itself."""


@dataclass
class Record:
    subsystem: str
    event: str
    fields: dict[str, str]
    text: str          # the line as logged
    number: int        # 1-based line number in the .log file

    def int(self, key: str) -> int:
        value = self.need(key)
        try:
            return int_value(value)
        except ValueError:
            raise DiagramError(f"field {key}={value!r} is not a number in: {self.text}") from None

    def size(self, key: str) -> int:
        size = size_value(self.need(key))
        if size is None:
            raise DiagramError(f"field {key}={self.fields[key]!r} is not a size in: {self.text}")
        return size

    def need(self, key: str) -> str:
        if key not in self.fields:
            raise DiagramError(f"field {key}= missing from log line {self.number}: {self.text}")
        return self.fields[key]


def parse_log(text: str) -> list[Record]:
    return [Record(r.subsystem, r.event, r.fields, str(r), r.line_number) for r in iter_records(text.splitlines())]


def _find(records: list[Record], subsystem: str, event: str) -> list[Record]:
    return [r for r in records if r.subsystem == subsystem and r.event == event]


def fmt_size(n: int) -> str:
    """Exact when a unit divides the size (``28 KiB``), else one decimal (``≈1.9 GiB``)."""
    for unit, scale in _UNITS:
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    for unit, scale in _UNITS:
        if n >= scale:
            return f"≈{n / scale:.1f} {unit}"
    return "0 B"


def fmt_approx(n: int) -> str:
    """A gap's size: exact if a unit divides it, else ``≈1.9 GiB`` in the largest unit."""
    for unit, scale in _UNITS:
        if n >= scale:
            return f"{n // scale} {unit}" if n % scale == 0 else f"≈{n / scale:.3g} {unit}"
    return "0 B"


def fmt_pages(pages: dict[str, int]) -> str:
    parts = [f"{count} × {size}" for size, count in pages.items() if count]
    return " + ".join(parts) if parts else "no pages"




# ---------------------------------------------------------------------------
# The address space
# ---------------------------------------------------------------------------


@dataclass
class Region:
    name: str                   # what a reader calls it: "kernel .text", "phys window"
    phase: str                  # the phase that mapped it
    start: int                  # virtual, inclusive
    end: int | None             # virtual, exclusive; None for a guard page (a point)
    flags: str = ""             # as logged: P|RW|NX
    pages: dict[str, int] = field(default_factory=dict)  # {"4KiB": n, "2MiB": n, "1GiB": n}
    pa: int | None = None       # physical address of start, when the log gives it
    kind: str = "mapped"        # mapped | guard | slot
    mem_type: str = ""          # UC, WC (MMIO phases)
    state: str = ""             # a later line's word on it: mapped=no when idle
    note: str = ""
    removed: str = ""           # the log line that says it was unmapped again
    lines: list[str] = field(default_factory=list)  # the log lines it is drawn from

    @property
    def size(self) -> int:
        return 0 if self.end is None else self.end - self.start


@dataclass
class Phase:
    name: str
    record: Record
    summary: str
    removed: str = ""


@dataclass
class AddressSpace:
    regions: list[Region]
    phases: list[Phase]
    cr3: str = ""


def _pages(record: Record) -> dict[str, int]:
    return {"4KiB": record.int("pages-4k"), "2MiB": record.int("pages-2m"), "1GiB": record.int("pages-1g")}


def _check_count(phase: Record, key: str, found: list[Record], what: str) -> None:
    expected = phase.int(key)
    if len(found) != expected:
        raise DiagramError(f"{phase.text!r} says {key}={expected}, but the log has {len(found)} {what} line(s)")


def _check_sum(phase: Record, key: str, total: int, what: str) -> None:
    expected = phase.size(key) if key == "bytes" else phase.int(key)
    if total != expected:
        shown = fmt_size if key == "bytes" else str
        raise DiagramError(f"{phase.text!r} says {key}={phase.fields[key]}, but its {what} lines add up to {shown(total)}")


def _phase_summary(phase: Record, extra: str = "") -> str:
    parts = [fmt_size(phase.size("bytes"))] if "bytes" in phase.fields else []
    if "pages-4k" in phase.fields:
        # One page size a line: "1311×4K + 1021×2M + 2×1G" would not fit the margin.
        parts.extend(fmt_pages(_pages(phase)).replace(" × ", "×").replace("iB", "").split(" + "))
    if "tables" in phase.fields:
        parts.append(f"{phase.fields['tables']} new tables")
    return " · ".join(parts + ([extra] if extra else []))


def _runs(phase: Record, runs: list[Record], name: str, window: bool) -> list[Region]:
    _check_count(phase, "runs", runs, f"[paging] {runs[0].event if runs else name + ' run'}")
    regions = []
    for run in runs:
        start, end = run.int("start"), run.int("end")
        if end <= start:
            raise DiagramError(f"run with end <= start: {run.text}")
        va = run.int("va") if window else start
        if window and va - start != phase.int("base"):
            raise DiagramError(f"{run.text!r}: va - start is not the phase's base={phase.fields['base']}")
        regions.append(Region(name, phase.event, va, va + end - start, flags=phase.need("flags"), pages=_pages(run),
                              pa=start, note="va = pa" if not window else f"va = pa + {phase.fields['base']}",
                              lines=[run.text, phase.text]))
    for key in ("pages-4k", "pages-2m", "pages-1g"):
        _check_sum(phase, key, sum(r.int(key) for r in runs), "run")
    _check_sum(phase, "bytes", sum(r.size("bytes") for r in runs), "run")
    for run, region in zip(runs, regions):
        if run.size("bytes") != region.size:
            raise DiagramError(f"{run.text!r}: bytes= is not end - start")
    return regions


def _kernel_image(records: list[Record], phase: Record) -> list[Region]:
    sections = [r for r in _find(records, "paging", "map") if "section" in r.fields]
    guards = _find(records, "paging", "guard")
    _check_count(phase, "sections", sections, "[paging] map section=")
    _check_count(phase, "guards", guards, "[paging] guard")
    _check_sum(phase, "bytes", sum(s.size("size") for s in sections), "map section=")
    whole = _pages(phase)
    only_4k = whole["2MiB"] == 0 and whole["1GiB"] == 0
    if only_4k:
        _check_sum(phase, "pages-4k", sum(s.size("size") // KIB4 for s in sections), "map section= (size / 4 KiB)")
    regions = []
    for s in sections:
        size = s.size("size")
        pages = {"4KiB": size // KIB4} if only_4k else {}
        regions.append(Region(f"kernel .{s.fields['section']}", phase.event, s.int("va"), s.int("va") + size,
                              flags=s.need("flags"), pages=pages, pa=s.int("pa"),
                              note="" if only_4k else "page sizes: see the phase total", lines=[s.text]))
    for g in guards:
        regions.append(Region(f"guard {g.need('name')}", phase.event, g.int("va"), None, kind="guard",
                              note="a stray access faults", lines=[g.text]))
    return regions


def _mmio_devices(records: list[Record], phase: Record) -> list[Region]:
    devices = [r for r in records if r.subsystem == "mmio" and r.event.startswith("map ") and r.event != "map framebuffer"]
    _check_count(phase, "devices", devices, "[mmio] map <device>")
    _check_sum(phase, "bytes", sum(d.size("size") for d in devices), "[mmio] map <device>")
    whole = _pages(phase)
    if whole["2MiB"] or whole["1GiB"]:
        raise DiagramError(f"{phase.text!r}: devices mapped with large pages, which the device lines do not itemise")
    _check_sum(phase, "pages-4k", sum(d.size("size") // KIB4 for d in devices), "[mmio] map <device> (size / 4 KiB)")
    return [Region(d.event.split(" ", 1)[1].upper() + " registers", phase.event, d.int("va"), d.int("va") + d.size("size"),
                   flags=d.need("flags"), pages={"4KiB": d.size("size") // KIB4}, pa=d.int("pa"),
                   mem_type=d.need("type"), lines=[d.text, phase.text]) for d in devices]


def _framebuffer(records: list[Record], phase: Record) -> list[Region]:
    lines = _find(records, "mmio", "map framebuffer")
    if len(lines) != 1:
        raise DiagramError(f"{phase.text!r} needs one '[INFO  mmio] map framebuffer' line, the log has {len(lines)}")
    fb = lines[0]
    size = fb.size("size")
    _check_sum(phase, "bytes", size, "map framebuffer")
    for key in ("pages-4k", "pages-2m"):
        _check_sum(phase, key, fb.int(key), "map framebuffer")
    pages = {"4KiB": fb.int("pages-4k"), "2MiB": fb.int("pages-2m")}
    if pages["4KiB"] * KIB4 + pages["2MiB"] * MIB2 != size:
        raise DiagramError(f"{fb.text!r}: the pages do not add up to size={fb.fields['size']}")
    flags = fb.need("flags") + (f", 4 KiB pages {fb.fields['flags-4k']}" if "flags-4k" in fb.fields else "")
    return [Region("framebuffer", phase.event, fb.int("va"), fb.int("va") + size, flags=flags, pages=pages,
                   pa=fb.int("pa"), mem_type=fb.need("type"), lines=[fb.text, phase.text])]


def _temporary_window(records: list[Record], phase: Record) -> list[Region]:
    va = phase.int("va")
    idle = [r for r in _find(records, "tlb", "window idle") if r.int("va") == va]
    note = f"its PT at pa {phase.need('pt')}"
    idle_state = f"mapped={idle[-1].fields['mapped']} when idle" if idle and "mapped" in idle[-1].fields else ""
    # The phase prepares a page table (pt=) for the slot: a PT entry maps 4 KiB.
    return [Region("temporary window slot", phase.event, va, va + KIB4, flags=phase.need("flags"), kind="slot",
                   note=note, state=idle_state, lines=[phase.text] + [r.text for r in idle[-1:]])]


def _kernel_stacks(records: list[Record], phase: Record) -> list[Region]:
    stacks = _find(records, "paging", "stack")
    _check_count(phase, "stacks", stacks, "[paging] stack")
    _check_count(phase, "guards", stacks, "[paging] stack (one guard= each)")
    _check_sum(phase, "bytes", sum(s.size("size") for s in stacks), "stack")
    _check_sum(phase, "pages-4k", sum(s.size("size") // KIB4 for s in stacks), "stack (size / 4 KiB)")
    regions = []
    for s in stacks:
        va, size = s.int("va"), s.size("size")
        if s.int("top") != va + size:
            raise DiagramError(f"{s.text!r}: top= is not va + size")
        # Frames come one at a time from the allocator: no single pa to show.
        regions.append(Region(f"stack {s.need('name')}", phase.event, va, va + size, flags=s.need("flags"),
                              pages={"4KiB": size // KIB4}, note=f"IST{s.need('ist')} · vector {s.need('vector')}",
                              lines=[s.text, phase.text]))
        regions.append(Region(f"guard {s.need('name')}", phase.event, s.int("guard"), None, kind="guard",
                              note="an overflow of the stack above faults here", lines=[s.text]))
    return regions


def _heap(records: list[Record], phase: Record) -> list[Region]:
    va, size = phase.int("va"), phase.size("bytes")
    pages = _pages(phase)
    if pages["2MiB"] or pages["1GiB"] or pages["4KiB"] * KIB4 != size:
        raise DiagramError(f"{phase.text!r}: the heap is mapped with 4 KiB pages only, bytes= is their sum")
    # The phase maps the heap's first pages; later growth is on demand.
    return [Region("kernel heap", phase.event, va, va + size, flags=phase.need("flags"), pages={"4KiB": pages["4KiB"]},
                   note=f"grows on demand · frames from the {phase.need('frames-from')}", lines=[phase.text]),
            Region("guard heap", phase.event, phase.int("guard"), None, kind="guard",
                   note="running off the heap's front faults here", lines=[phase.text])]


PHASES = {
    "identity_map_low_memory": lambda records, p: _runs(p, _find(records, "paging", "identity run"), "identity map", False),
    "map_kernel_image": _kernel_image,
    "map_phys_offset_regions": lambda records, p: _runs(p, _find(records, "paging", "window run"), "phys window", True),
    "map_mmio_devices": _mmio_devices,
    "map_framebuffer": _framebuffer,
    "create_temporary_window": _temporary_window,
    "map_kernel_stacks": _kernel_stacks,
    "create_heap": _heap,
    # Chapter 12 gives every empty kernel PML4 slot a table: tables, no pages.
    "share_kernel_half": lambda records, p: [],
}


def address_space(records: list[Record]) -> AddressSpace:
    """The regions the log's mapping phases report, checked against each
    phase's totals, in address order."""
    phase_lines = [r for r in records if r.subsystem == "paging" and r.event.startswith("phase ")]
    if not phase_lines:
        raise DiagramError("the log has no '[INFO  paging] phase …' line: no address space to draw")
    regions: list[Region] = []
    phases: list[Phase] = []
    for line in phase_lines:
        name = line.event.split(" ", 1)[1]
        if name not in PHASES:
            raise DiagramError(f"phase {name} is not known to the address-space diagram "
                               f"(book/_ext/kernelbook/diagram_model.py PHASES): {line.text}")
        found = PHASES[name](records, line)
        for region in found:
            region.phase = name
        extra = f"{line.fields['guards']} guards" if "guards" in line.fields else ""
        if "type" in line.fields:
            extra = line.fields["type"]
        phases.append(Phase(name, line, _phase_summary(line, extra)))
        regions += found
    removed = _find(records, "paging", "identity map removed")
    if removed:
        identity = [p for p in phases if p.name == "identity_map_low_memory"]
        if not identity:
            raise DiagramError(f"{removed[0].text!r} but no identity_map_low_memory phase line")
        identity[0].removed = removed[0].text
        for region in regions:
            if region.phase == "identity_map_low_memory":
                region.removed = removed[0].text
                region.lines.append(removed[0].text)
    regions.sort(key=lambda r: (r.start, r.end or r.start))
    mapped = [r for r in regions if r.end is not None]
    for a, b in zip(mapped, mapped[1:]):
        if b.start < a.end:
            raise DiagramError(f"{a.name} [{a.start:#x}, {a.end:#x}) overlaps {b.name} at {b.start:#x}:\n  {a.lines[0]}\n  {b.lines[0]}")
    switched = _find(records, "paging", "switched")
    return AddressSpace(regions, phases, switched[-1].fields.get("cr3", "") if switched else "")


# ---------------------------------------------------------------------------
# {page-walk}: one logged translation, cut into the indices the CPU walks
# ---------------------------------------------------------------------------

LEVELS = [("PML4", 39), ("PDPT", 30), ("PD", 21), ("PT", 12)]
#: With 5-level paging (CR4.LA57) the walk starts one table higher, at bits 56–48.
LEVELS_5 = [("PML5", 48)] + LEVELS


@dataclass
class Walk:
    va: int
    pa: int
    page: str                  # 4KiB, 2MiB, 1GiB
    flags: str
    label: str                 # what the log calls the address
    indices: list[tuple[str, int]]  # the levels walked, with the entry index at each
    offset: int
    frame: int
    cr3: str
    lines: list[str]
    levels: int = 4            # 5 when the log's ``[paging] switched`` line says levels=5


def page_walk(records: list[Record], check: str | None = None, match: str | None = None) -> Walk:
    """The translation of one address the log reports: a ``check what=NAME``
    line of ``[paging]``, or the first line matching ``match`` that has
    ``va=``, ``pa=`` and ``page=`` fields."""
    if check:
        found = [r for r in _find(records, "paging", "check") if r.fields.get("what") == check]
        if not found:
            names = ", ".join(r.fields.get("what", "?") for r in _find(records, "paging", "check")) or "none"
            raise DiagramError(f"no '[INFO  paging] check what={check}' line in the log (checks logged: {names})")
    else:
        regex = re.compile(match or "")
        found = [r for r in records if regex.search(r.text) and {"va", "pa", "page"} <= r.fields.keys()]
        if not found:
            raise DiagramError(f"no log line matches {match!r} and has va=, pa= and page= fields")
    line = found[0]
    if line.fields.get("present", "yes") != "yes":
        raise DiagramError(f"the log reports no translation for this address (present={line.fields['present']}): {line.text}")
    va, pa, page = line.int("va"), line.int("pa"), line.need("page")
    if page not in PAGE_SIZES:
        raise DiagramError(f"page={page} is not a page size (4KiB, 2MiB, 1GiB): {line.text}")
    size = PAGE_SIZES[page]
    if (va & (size - 1)) != (pa & (size - 1)):
        raise DiagramError(f"va and pa differ inside the {page} page (offset {va & (size - 1):#x} vs {pa & (size - 1):#x}): {line.text}")
    switched = _find(records, "paging", "switched")
    # The depth of the tables CR3 names: 4 unless the kernel logged levels=5.
    levels = LEVELS_5 if switched and switched[-1].fields.get("levels") == "5" else LEVELS
    below_leaf = {KIB4: 0, MIB2: 1, GIB1: 2}[size]
    indices = [(name, (va >> shift) & 511) for name, shift in levels[:len(levels) - below_leaf]]
    return Walk(va, pa, page, line.fields.get("flags", ""), line.fields.get("what", ""), indices, va & (size - 1),
                pa & ~(size - 1), switched[-1].fields.get("cr3", "") if switched else "",
                [line.text] + [s.text for s in switched[-1:]], len(levels))
