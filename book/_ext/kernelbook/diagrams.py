"""Diagrams drawn from a captured boot log: the kernel's virtual address space
(``{address-space}``) and one 4-level page walk (``{page-walk}``).

Everything drawn comes from ``[LEVEL subsystem] event key=value`` lines of a
real boot; nothing here knows an address of its own. The model is checked
against the log as it is built: a phase's detail lines must be as many as the
phase line says and add up to its totals, a phase this module does not know
is an error, and so is a walk whose offset does not match its physical
address. Each check raises :class:`DiagramError` with a message that names
the line that is missing or wrong, and the directive turns that into a build
error, so a diagram cannot go stale while the log changes under it.

The functions here are pure (no Sphinx): :func:`parse_log`,
:func:`address_space`, :func:`address_space_svg`, :func:`page_walk`,
:func:`page_walk_svg`. The SVG is built as a string, one ``<g>`` per band
with ``data-*`` attributes holding the values it was drawn from and a
``<title>`` holding the log lines themselves (a tooltip in a browser).
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

# ---------------------------------------------------------------------------
# Reading the log: with the one reader of the log format, tests/harness/log.py
# ---------------------------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from harness.log import iter_records  # noqa: E402

_SIZE_RE = re.compile(r"^(\d+)(B|KiB|MiB|GiB|TiB)$")
_UNITS = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]

KIB4, MIB2, GIB1 = 1 << 12, 1 << 21, 1 << 30
PAGE_SIZES = {"4KiB": KIB4, "2MiB": MIB2, "1GiB": GIB1}
# The non-canonical hole of 4-level paging (48-bit virtual addresses).
CANONICAL_LOW_END = 1 << 47
CANONICAL_HIGH_START = (1 << 64) - (1 << 47)


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
            return int(value, 16) if value.lower().startswith("0x") else int(value, 10)
        except ValueError:
            raise DiagramError(f"field {key}={value!r} is not a number in: {self.text}") from None

    def size(self, key: str) -> int:
        match = _SIZE_RE.match(self.need(key))
        if not match:
            raise DiagramError(f"field {key}={self.fields[key]!r} is not a size in: {self.text}")
        return int(match[1]) * dict(_UNITS)[match[2]]

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


def rights(flags: str) -> str:
    """``P|RW|NX`` → ``rw-``: what the flags allow (read, write, execute)."""
    names = set(flags.split("|"))
    if "P" not in names:
        return "---"
    return "r" + ("w" if "RW" in names else "-") + ("-" if "NX" in names else "x")


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
        parts.append(fmt_pages(_pages(phase)).replace(" × ", "×").replace("iB", ""))
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
                               f"(book/_ext/kernelbook/diagrams.py PHASES): {line.text}")
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
# SVG helpers
# ---------------------------------------------------------------------------

MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"
SANS = "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif"
PHASE_COLOURS = {
    "identity_map_low_memory": "#c9d6e8",
    "map_kernel_image": "#f6d7a7",
    "map_phys_offset_regions": "#bfe3c0",
    "map_mmio_devices": "#f2b8b5",
    "map_framebuffer": "#e5c4ec",
    "create_temporary_window": "#b8e6e6",
    "map_kernel_stacks": "#d9d2a6",
    "create_heap": "#cfe0b4",
}
SECTION_COLOURS = {"kernel .text": "#f4b183", "kernel .rodata": "#f8e3a3", "kernel .data": "#f6d7a7", "kernel .stack": "#f0c9a0"}


def _text(x: float, y: float, text: str, *, cls: str, size: float = 12, anchor: str = "start", mono: bool = False,
          weight: str = "normal", fill: str = "", style: str = "") -> str:
    family = MONO if mono else SANS
    extra = (f' fill="{fill}"' if fill else "") + (f' style="{style}"' if style else "")
    return (f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" font-family="{escape(family)}" font-size="{size}" '
            f'font-weight="{weight}" text-anchor="{anchor}"{extra}>{escape(text)}</text>')


def _data(**values) -> str:
    return "".join(f' data-{k.replace("_", "-")}="{escape(str(v))}"' for k, v in values.items() if v not in (None, ""))


def _svg(width: float, height: float, title: str, body: list[str], cls: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="kernelbook-diagram {cls}" role="img" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
            f'style="max-width: 100%; height: auto; color: inherit" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


# ---------------------------------------------------------------------------
# {address-space}: one band per region, high addresses at the top
# ---------------------------------------------------------------------------

AS_WIDTH = 760
AS_BAND_X = 186
AS_CHARS = 80  # monospace characters that fit on a band's line
AS_BAND_W = AS_WIDTH - AS_BAND_X - 4


def _band_height(region: Region) -> float:
    if region.end is None:
        return 38
    if len(region.flags) > 30:
        return 52 + 3.2 * max(0.0, math.log2(region.size / KIB4))
    # Log-ish: every doubling of the size adds 3 px, so 4 KiB and 256 MiB both read.
    return 40 + 3.2 * max(0.0, math.log2(region.size / KIB4))


def _gap_label(low: int, high: int | None) -> str:
    if high is None:
        return f"nothing mapped above {low:#x}"
    if low <= CANONICAL_LOW_END and high >= CANONICAL_HIGH_START:
        below, above = CANONICAL_LOW_END - low, high - CANONICAL_HIGH_START
        parts = ([f"{fmt_approx(below)} not mapped"] if below else []) + ["the non-canonical hole"] + \
                ([f"{fmt_approx(above)} not mapped"] if above else [])
        return " · ".join(parts)
    return f"not mapped: {fmt_approx(high - low)}"


def _region_lines(region: Region, upper: int | None) -> tuple[str, str]:
    if region.kind == "guard":
        if upper is None:
            return f"{region.name} — not mapped, nor anything above it", f"{region.start:#x} and up · {region.note}"
        return (f"{region.name} — not mapped · {fmt_size(upper - region.start)} up to the next region",
                f"{region.start:#x} – {upper:#x} · {region.note}")
    pa = ""
    if region.pa is not None and region.pa != region.start:
        pa = f" · pa {region.pa:#x}"
    first = f"{region.name} · {fmt_size(region.size)} · {fmt_pages(region.pages)}" if region.pages else f"{region.name} · {fmt_size(region.size)}"
    if region.kind == "slot":
        first = f"{region.name} · one 4 KiB slot · {region.note}"
    second = f"{region.start:#x} – {region.end:#x} · {region.flags} ({rights(region.flags.split(',')[0])})"
    if region.mem_type:
        second += f" · {region.mem_type}"
    if region.state:
        second += f" · {region.state}"
    return first + pa, second


def address_space_svg(space: AddressSpace, title: str, uid: str = "as") -> str:
    regions = sorted(space.regions, key=lambda r: (r.start, r.end or r.start))
    # Rows from the lowest address up; drawn bottom-up so high addresses are on top.
    rows: list[tuple[str, object, float]] = []  # (kind, payload, height)
    cursor: int | None = None
    for i, region in enumerate(regions):
        if cursor is not None and region.start > cursor:
            rows.append(("gap", (cursor, region.start), 22))
        rows.append(("region", region, _band_height(region)))
        if region.end is not None:
            cursor = region.end
        else:
            following = next((r for r in regions[i + 1:]), None)
            # A guard page takes the unmapped space up to the next region.
            cursor = following.start if following else None
    top_pad, bottom_pad = 34, 30
    height = top_pad + bottom_pad + sum(h for _, _, h in rows)
    body = [
        _text(4, 16, "higher addresses ↑", cls="as-axis", size=11, fill="currentColor"),
        _text(AS_WIDTH - 4, 16, "band height grows with log₂(size): not to scale", cls="as-axis", size=11, anchor="end",
              fill="currentColor"),
        _text(4, height - 10, "lower addresses ↓", cls="as-axis", size=11, fill="currentColor"),
    ]
    y = height - bottom_pad
    phase_rows: dict[str, list[tuple[float, float]]] = {}
    for index, (kind, payload, h) in enumerate(rows):
        top = y - h
        if kind == "gap":
            low, high = payload
            body.append(f'<g class="as-gap"{_data(start=f"{low:#x}", end=f"{high:#x}")}>'
                        f'<line x1="{AS_BAND_X}" y1="{top + h / 2:.1f}" x2="{AS_BAND_X + AS_BAND_W}" y2="{top + h / 2:.1f}" '
                        f'stroke="currentColor" stroke-opacity="0.35" stroke-dasharray="2 5"/>'
                        + _text(AS_BAND_X + AS_BAND_W / 2, top + h / 2 + 4, _gap_label(low, high), cls="as-gap-label",
                                size=11, anchor="middle", fill="currentColor",
                                # readable over the dotted line, in light and dark themes
                                style="paint-order: stroke; stroke: var(--color-background-primary, #fff); stroke-width: 4px")
                        + "</g>")
        else:
            region: Region = payload
            upper = None
            if region.end is None:
                following = next((r for k, r, _ in rows[index + 1:] if k == "region"), None)
                upper = following.start if following else None
            first, second = _region_lines(region, upper)
            colour = SECTION_COLOURS.get(region.name, PHASE_COLOURS.get(region.phase, "#dddddd"))
            attrs = ""
            if region.kind == "guard":
                colour = f"url(#{uid}-hatch)"
            if region.removed:
                attrs = ' stroke-dasharray="6 4" fill-opacity="0.35"'
                second += " · removed later"
            title = "\n".join(region.lines)
            rest = [second]
            if len(second) > AS_CHARS:  # range on one line, flags and type on the next
                cut = second.index(" · ", second.index(" – ")) + 3
                rest = [second[:cut - 3], second[cut:]]
            body.append(
                f'<g class="as-region as-{region.kind}"'
                + _data(name=region.name, phase=region.phase, start=f"{region.start:#x}",
                        end=f"{region.end:#x}" if region.end is not None else "",
                        size=region.size if region.end is not None else "", flags=region.flags,
                        pages_4k=region.pages.get("4KiB", ""), pages_2m=region.pages.get("2MiB", ""),
                        pages_1g=region.pages.get("1GiB", ""), pa=f"{region.pa:#x}" if region.pa is not None else "",
                        type=region.mem_type, removed="yes" if region.removed else "")
                + f"><title>{escape(title)}</title>"
                f'<rect x="{AS_BAND_X}" y="{top + 1:.1f}" width="{AS_BAND_W}" height="{h - 2:.1f}" rx="3" fill="{colour}" '
                f'stroke="#555" stroke-width="1"{attrs}/>'
                + _text(AS_BAND_X + 8, top + h / 2 - 3 - 7 * (len(rest) - 1), first, cls="as-label", size=12.5,
                        weight="bold", fill="#111")
                + "".join(_text(AS_BAND_X + 8, top + h / 2 + 13 - 7 * (len(rest) - 1) + 14 * k, line, cls="as-range",
                                size=11.5, mono=True, fill="#222") for k, line in enumerate(rest))
                + "</g>")
            phase_rows.setdefault(region.phase, []).append((top, y))
        y = top
    # Phase brackets on the left: the phase that mapped the bands, with its totals.
    for phase in space.phases:
        spans = phase_rows.get(phase.name)
        if not spans:
            continue
        top, bottom = min(t for t, _ in spans), max(b for _, b in spans)
        x = AS_BAND_X - 10
        mid = (top + bottom) / 2
        lines = [phase.name] + phase.summary.split(" · ")
        if phase.removed:
            lines.append("removed before ready")
        body.append(f'<g class="as-phase"{_data(phase=phase.name)}><title>{escape(phase.record.text)}</title>'
                    f'<path d="M{x + 6} {top + 2:.1f} H{x} V{bottom - 2:.1f} H{x + 6}" fill="none" stroke="currentColor" stroke-width="1.5"/>'
                    + "".join(_text(x - 6, mid - 6 * (len(lines) - 1) + 13 * k + 4, line, cls="as-phase-label",
                                    size=11.5 if k else 12, weight="bold" if k == 0 else "normal", anchor="end",
                                    mono=k == 0, fill="currentColor") for k, line in enumerate(lines))
                    + "</g>")
    defs = (f'<defs><pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<rect width="6" height="6" fill="#eeeeee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/>'
            '</pattern></defs>')
    return _svg(AS_WIDTH, height, title, [defs] + body, "address-space")


# ---------------------------------------------------------------------------
# {page-walk}: CR3 → PML4 → PDPT → PD → PT → frame, for one logged translation
# ---------------------------------------------------------------------------

LEVELS = [("PML4", 39), ("PDPT", 30), ("PD", 21), ("PT", 12)]


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
    depth = {KIB4: 4, MIB2: 3, GIB1: 2}[size]
    indices = [(name, (va >> shift) & 511) for name, shift in LEVELS[:depth]]
    switched = _find(records, "paging", "switched")
    return Walk(va, pa, page, line.fields.get("flags", ""), line.fields.get("what", ""), indices, va & (size - 1),
                pa & ~(size - 1), switched[-1].fields.get("cr3", "") if switched else "",
                [line.text] + [s.text for s in switched[-1:]])


WALK_WIDTH = 760


def page_walk_svg(walk: Walk, title: str, uid: str = "pw") -> str:
    body: list[str] = []
    bits = [("sign extension", 63, 48, None)] + [(name, shift + 8, shift, index) for (name, index), (_, shift) in
                                                  zip(walk.indices, LEVELS)]
    low_bit = LEVELS[len(walk.indices) - 1][1]
    bits.append(("offset", low_bit - 1, 0, walk.offset))
    # Top: the virtual address cut into its fields.
    body.append(_text(4, 18, f"virtual address {walk.va:#018x}" + (f"  ({walk.label})" if walk.label else ""),
                      cls="pw-va", size=14, weight="bold", mono=True, fill="currentColor"))
    widths = {"sign extension": 110, "offset": 124 if low_bit == 12 else 180}
    field_w = (WALK_WIDTH - 8 - widths["sign extension"] - widths["offset"]) / len(walk.indices)
    x = 4.0
    centres = {}
    for name, high, low, value in bits:
        w = widths.get(name, field_w)
        centres[name] = x + w / 2
        body.append(f'<g class="pw-field"{_data(field=name, bits=f"{high}:{low}", value=value if value is not None else "")}>'
                    f'<rect x="{x:.1f}" y="30" width="{w - 4:.1f}" height="58" rx="3" fill="{"#eeeeee" if value is None else "#dfe8f5" if name != "offset" else "#f6e3c3"}" stroke="#555"/>'
                    + _text(x + w / 2 - 2, 46, f"bits {high}–{low}", cls="pw-bits", size=11, anchor="middle", fill="#333")
                    + _text(x + w / 2 - 2, 63, name if value is None else (f"{name} index" if name != "offset" else "offset"),
                            cls="pw-name", size=12, anchor="middle", weight="bold", fill="#111")
                    + _text(x + w / 2 - 2, 80, "all 1s" if value is None and walk.va >> 63 else "all 0s" if value is None else
                            (f"{value} = {value:09b}b" if name != "offset" else f"{value:#x}"),
                            cls="pw-value", size=11.5, anchor="middle", mono=True, fill="#111")
                    + "</g>")
        x += w
    # Below: the chain of tables, each with the entry the index selects.
    steps = ["CR3"] + [name for name, _ in walk.indices] + ["frame"]
    box_w, frame_w = 100, 140
    gap = (WALK_WIDTH - 8 - box_w * (len(steps) - 1) - frame_w) / (len(steps) - 1)
    y0 = 130
    for k, step in enumerate(steps):
        bx = 4 + k * (box_w + gap)
        if step == "frame":
            bx, box_w = WALK_WIDTH - 4 - frame_w, frame_w
        cx = bx + box_w / 2
        if step == "CR3":
            body.append(f'<g class="pw-step"{_data(step="CR3", value=walk.cr3)}>'
                        f'<rect x="{bx:.1f}" y="{y0 + 40}" width="{box_w}" height="44" rx="3" fill="#e8e8e8" stroke="#555"/>'
                        + _text(cx, y0 + 58, "CR3", cls="pw-name", size=12, anchor="middle", weight="bold", fill="#111")
                        + _text(cx, y0 + 75, walk.cr3 or "(not logged)", cls="pw-value", size=11.5, anchor="middle", mono=True, fill="#111")
                        + "</g>")
        elif step == "frame":
            body.append(f'<g class="pw-step"{_data(step="frame", frame=f"{walk.frame:#x}", offset=f"{walk.offset:#x}", pa=f"{walk.pa:#x}", page=walk.page)}>'
                        f'<rect x="{bx:.1f}" y="{y0}" width="{box_w}" height="150" rx="3" fill="#f6e3c3" stroke="#555"/>'
                        + _text(cx, y0 + 18, f"{fmt_size(PAGE_SIZES[walk.page])} page", cls="pw-name", size=12, anchor="middle", weight="bold", fill="#111")
                        + _text(cx, y0 + 36, f"{walk.frame:#x}", cls="pw-value", size=11.5, anchor="middle", mono=True, fill="#111")
                        + _text(cx, y0 + 70, f"+ offset {walk.offset:#x}", cls="pw-value", size=11.5, anchor="middle", mono=True, fill="#111")
                        + f'<rect x="{bx + 6:.1f}" y="{y0 + 84}" width="{box_w - 12}" height="26" fill="#fff" stroke="#b3541e" stroke-width="2"/>'
                        + _text(cx, y0 + 102, f"pa {walk.pa:#x}", cls="pw-pa", size=11.5, anchor="middle", mono=True, weight="bold", fill="#111")
                        + _text(cx, y0 + 130, walk.flags and f"flags {walk.flags}", cls="pw-value", size=11, anchor="middle", mono=True, fill="#111")
                        + "</g>")
        else:
            index = dict(walk.indices)[step]
            leaf = step == walk.indices[-1][0]
            entry_y = y0 + 28 + 100 * index / 511
            rows = []
            for label, ey in (("0", y0 + 28), ("511", y0 + 128)):
                if abs(ey - entry_y) > 14:
                    rows.append(_text(bx + 14, ey + 10, label, cls="pw-entry", size=10, mono=True, fill="#666"))
            what = "→ page" if leaf else f"→ {steps[k + 1]}"
            body.append(f'<g class="pw-step"{_data(step=step, index=index, leaf="yes" if leaf else "")}>'
                        f'<rect x="{bx:.1f}" y="{y0}" width="{box_w}" height="150" rx="3" fill="#dfe8f5" stroke="#555"/>'
                        + _text(cx, y0 + 18, step, cls="pw-name", size=12, anchor="middle", weight="bold", fill="#111")
                        + "".join(rows)
                        + f'<rect x="{bx + 6:.1f}" y="{entry_y:.1f}" width="{box_w - 12}" height="14" fill="#fff" stroke="#1e5bb3" stroke-width="2"/>'
                        + _text(cx, entry_y + 11, f"[{index}] {what}", cls="pw-entry-selected", size=10.5, anchor="middle", mono=True, weight="bold", fill="#111")
                        + _text(cx, y0 + 168, f"entry × 8 = +{index * 8:#x}", cls="pw-note", size=10.5, anchor="middle", mono=True, fill="currentColor")
                        + (_text(cx, y0 + 182, "PS set: the walk ends", cls="pw-note", size=10.5, anchor="middle", fill="currentColor")
                           if leaf and step != "PT" else "")
                        + "</g>")
            # The index comes from this field of the address.
            body.append(f'<path d="M{centres[step]:.1f} 88 L{cx:.1f} {y0 - 1}" fill="none" stroke="#1e5bb3" stroke-opacity="0.7" stroke-dasharray="4 3"/>')
        if k + 1 < len(steps):
            nx = 4 + (k + 1) * (box_w + gap)
            if step == "CR3":
                ay = y0 + 62
            else:
                ay = y0 + 28 + 100 * dict(walk.indices).get(step, 0) / 511 + 7
            body.append(f'<path d="M{bx + box_w:.1f} {ay:.1f} L{nx - 2:.1f} {y0 + 10}" fill="none" stroke="currentColor" stroke-width="1.5" marker-end="url(#{uid}-arrow)"/>')
    body.append(f'<path d="M{centres["offset"]:.1f} 88 L{WALK_WIDTH - 4 - frame_w / 2:.1f} {y0 - 1}" fill="none" stroke="#b3541e" stroke-opacity="0.7" stroke-dasharray="4 3"/>')
    defs = (f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M0 0 L10 5 L0 10 z" fill="currentColor"/></marker></defs>')
    return _svg(WALK_WIDTH, y0 + 190, title, [defs] + body, "page-walk")
