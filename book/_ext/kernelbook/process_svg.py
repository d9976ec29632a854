"""SVG drawing of :mod:`kernelbook.process_model`'s process address space,
for the ``{process-space}`` directive: :func:`process_space_svg`.

High addresses at the top: the kernel's half, one band per phase, shared by
every process; the non-canonical hole; then the lower half, one column per
process, one band per region or kept-empty range. Band heights grow with
log₂ of the size and the unmapped space between bands is one labelled row
(a broken axis), so a 4 KiB page and a 1 GiB mapping both read; the axis on
the left gives the real address of every band's edges. Like
:mod:`kernelbook.diagram_svg`, each ``<g>`` holds its values in ``data-*``
attributes and the log lines it was drawn from in its ``<title>``.
"""

from __future__ import annotations

import math
from html import escape

from .diagram_model import KIB4, fmt_approx, fmt_size
from .diagram_svg import PHASE_COLOURS, _data, _svg, _text
from .process_model import KernelBand, Piece, Process, ProcessSpace

AXIS_W = 150          # the address labels, right-aligned against the bands
COLUMN_W = {1: 600, 2: 370}
ROW_GAP = 24          # an unmapped row, whatever its size
KERNEL_ROW = 34       # a phase of the kernel's half: summarised, so one height
KERNEL_GAP = 18
LINE = 14             # one line of a band's label
CELLS_MAX = 64        # a shared region this small shows one cell per page

COLOURS = {"r-x": "#f4b183", "r--": "#f8e3a3", "rw-": "#f6d7a7"}
KIND_COLOURS = {"anonymous": "#bfe3c0", "stack": "#d9d2a6", "growth": "#f3f1e4"}
SHARED_STRIPE = {"copy-on-write": "#8e44ad", "read-only": "#7f8c8d"}
CELL_COLOURS = {"copied": "#e67e22", "taken-over": "#27ae60", "copied-by-other": "#f5f5f5", "shared": "#d7bde2"}
HATCHED = ("guard", "guard-gap", "reserved")


def _chars(width: float) -> int:
    """Characters of an 11.5 px label that fit in ``width`` (a conservative 7 px each)."""
    return int((width - 16) / 7)


def _wrap(parts: list[str], chars: int) -> list[str]:
    """Parts joined with " · ", a new line where the next would not fit; a
    part too long for a line of its own is broken between words."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= chars:
            lines[-1] += " · " + part
            continue
        lines.append("")
        for word in part.split(" "):
            if lines[-1] and len(lines[-1]) + 1 + len(word) > chars:
                lines.append(word)
            else:
                lines[-1] = f"{lines[-1]} {word}" if lines[-1] else word
    return lines


def _title(p: Piece) -> str:
    size = fmt_size(p.size)
    if p.kind == "segment":
        return f"ELF segment · {p.rights} · {size}"
    if p.kind == "file":
        return f"file region (ELF segment) · {p.rights} · {size}"
    if p.kind == "anonymous" and p.state == "unmapped":
        return f"mmap · anonymous · {size} · unmapped later"
    if p.kind == "anonymous":
        return f"mmap · anonymous · {p.rights} · {size}"
    if p.kind == "stack":
        return f"stack · {p.rights} · {size}"
    if p.kind == "growth":
        return f"stack growth room · {size}"
    if p.kind == "guard-gap":
        return f"stack guard gap · {size}"
    if p.kind == "guard":
        return f"stack guard page · {size}"
    return f"{p.kind} · {size}"


#: What the kernel keeps empty, and why: the first note of its band.
KEPT_EMPTY = {
    "growth": "not mapped until the stack grows into it",
    "guard-gap": "no region may start here: an overflow faults",
    "guard": "never mapped: an overflow faults here",
}


def _notes(p: Piece, process: Process, others: list[Process]) -> list[str]:
    notes = ([KEPT_EMPTY[p.kind]] if p.kind in KEPT_EMPTY else []) + list(p.notes)
    if p.state == "unmapped" and p.kind != "anonymous":
        notes.insert(0, "unmapped later")
    if p.shared:
        with_whom = ", ".join(f"pid {o.pid}" for o in others)
        notes.append(f"shared {p.shared} with {with_whom} at fork")
    for event, pages in sorted(p.copied.items()):
        notes.append(f"{len(pages)} page{'s' if len(pages) != 1 else ''} {event.replace('-', ' ')} by pid {process.pid}")
    return notes


def _cells(p: Piece) -> bool:
    return p.shared == "copy-on-write" and p.size // KIB4 <= CELLS_MAX


def _height(size: int) -> float:
    # Log-ish: every doubling adds 2.4 px, so 4 KiB and 1 GiB both read.
    return 26 + 2.4 * max(0.0, math.log2(max(size, KIB4) / KIB4))


class _Rows:
    """Rows from the highest address down: (start, end, height, what)."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, start: int, end: int, height: float, **what) -> None:
        self.rows.append({"start": start, "end": end, "height": height, **what})


def _lower_rows(space: ProcessSpace, width: float) -> _Rows:
    layout = space.layout
    bounds = {0, layout.lowest, layout.limit, layout.lower_half_end}
    for process in space.processes:
        for p in process.pieces:
            bounds |= {p.start, p.end}
    edges = sorted(bounds)
    rows = _Rows()
    chars = _chars(width)
    for low, high in reversed(list(zip(edges, edges[1:]))):
        covering = [next((p for p in pr.pieces if p.start <= low and high <= p.end), None) for pr in space.processes]
        if low == 0 or low == layout.limit:
            rows.add(low, high, max(_height(high - low), 2 * LINE + 10), kind="reserved")
        elif not any(covering):
            rows.add(low, high, ROW_GAP, kind="gap")
        else:
            need = 0.0
            for process, p in zip(space.processes, covering):
                if p is None or not (p.start == low and p.end == high):
                    continue
                others = [o for o in space.processes if o is not process]
                lines = 2 + len(_wrap(_notes(p, process, others), chars))
                need = max(need, lines * LINE + 10 + (16 if _cells(p) else 0))
            rows.add(low, high, max(_height(high - low), need), kind="pieces")
    return rows


def _kernel_rows(space: ProcessSpace) -> _Rows:
    rows = _Rows()
    bands = sorted(space.kernel, key=lambda b: b.start, reverse=True)
    top = 1 << 64
    for band in bands:
        if band.end < top:
            rows.add(band.end, top, KERNEL_GAP, kind="gap")
        rows.add(band.start, band.end, KERNEL_ROW, kind="kernel", band=band)
        top = band.start
    if space.upper_half_start < top:
        rows.add(space.upper_half_start, top, KERNEL_GAP, kind="gap")
    return rows


def _hatch(uid: str) -> str:
    return (f'<defs><pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<rect width="6" height="6" fill="#eeeeee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/>'
            '</pattern></defs>')


def _label(x: float, top: float, lines: list[tuple[str, bool, bool]]) -> str:
    """Lines of a band's label (text, bold, monospace) from its top."""
    return "".join(_text(x, top + 15 + LINE * k, text, cls="ps-label" if bold else "ps-range" if mono else "ps-note",
                         size=12 if bold else 11.5, weight="bold" if bold else "normal", mono=mono, fill="#111")
                   for k, (text, bold, mono) in enumerate(lines))


def _piece(p: Piece, process: Process, others: list[Process], x: float, top: float, h: float, w: float, uid: str) -> str:
    fill = f"url(#{uid}-hatch)" if p.kind in HATCHED else KIND_COLOURS.get(p.kind) or COLOURS.get(p.rights, "#dddddd")
    if p.kind in ("file", "segment"):
        fill = COLOURS.get(p.rights, "#dddddd")
    attrs = ' stroke-dasharray="6 4" fill-opacity="0.35"' if p.state == "unmapped" else ""
    if p.kind == "growth":
        attrs = ' stroke-dasharray="2 3"'
    lines = [(_title(p), True, False), (f"{p.start:#x} – {p.end:#x}", False, True)]
    lines += [(n, False, False) for n in _wrap(_notes(p, process, others), _chars(w))]
    body = [f'<rect x="{x:.1f}" y="{top + 1:.1f}" width="{w:.1f}" height="{h - 2:.1f}" rx="3" fill="{fill}" '
            f'stroke="#555" stroke-width="1"{attrs}/>']
    if p.shared:
        body.append(f'<rect x="{x:.1f}" y="{top + 1:.1f}" width="5" height="{h - 2:.1f}" fill="{SHARED_STRIPE[p.shared]}"/>')
    body.append(_label(x + 10, top, lines))
    if _cells(p):
        pages = p.size // KIB4
        cw = (w - 20) / pages
        # The other side's copies: this side keeps the old frame, now its alone.
        theirs = {va for o in others for q in o.pieces for va in q.copied.get("copied", [])}
        for i in range(pages):
            va = p.start + i * KIB4
            state = next((e for e, vas in p.copied.items() if va in vas), "copied-by-other" if va in theirs else "shared")
            body.append(f'<rect class="ps-cell" x="{x + 10 + i * cw:.1f}" y="{top + h - 16:.1f}" width="{cw - 1:.1f}" '
                        f'height="10" fill="{CELL_COLOURS[state]}" stroke="#555" stroke-width="0.5" '
                        f'data-va="{va:#x}" data-state="{state}"><title>{va:#x}: {state}</title></rect>')
    return (f'<g class="ps-region ps-{p.kind}"'
            + _data(pid=process.pid, kind=p.kind, start=f"{p.start:#x}", end=f"{p.end:#x}", rights=p.rights,
                    state=p.state, shared=p.shared, copied=len(p.copied.get("copied", [])) or "",
                    taken_over=len(p.copied.get("taken-over", [])) or "")
            + f"><title>{escape(chr(10).join(p.lines))}</title>" + "".join(body) + "</g>")


def _kernel_band(band: KernelBand, x: float, top: float, h: float, w: float) -> str:
    parts = [f"{band.title} · {fmt_size(band.mapped)} mapped"]
    if band.regions > 1:
        parts.append(f"{band.regions} regions")
    if band.guards:
        parts.append(f"{band.guards} guard page{'s' if band.guards > 1 else ''}")
    lines = [(" · ".join(parts), True, False), (f"{band.start:#x} – {band.end:#x}", False, True)]
    return ('<g class="ps-kernel"' + _data(phase=band.phase, start=f"{band.start:#x}", end=f"{band.end:#x}",
                                           bytes=band.mapped, regions=band.regions, guards=band.guards or "")
            + f"><title>{escape(chr(10).join(band.lines))}</title>"
            f'<rect x="{x:.1f}" y="{top + 1:.1f}" width="{w:.1f}" height="{h - 2:.1f}" rx="3" '
            f'fill="{PHASE_COLOURS.get(band.phase, "#dddddd")}" stroke="#555" stroke-width="1"/>'
            + _label(x + 10, top, lines) + "</g>")


def _gap(start: int, end: int, x: float, top: float, w: float, text: str, h: float = ROW_GAP) -> str:
    mid = top + h / 2
    # A broken axis: the zigzag says the row is not to scale.
    zig = f"M{AXIS_W - 4} {mid - 7:.1f} l4 3.5 l-4 3.5 l4 3.5 l-4 3.5"
    return ('<g class="ps-gap"' + _data(start=f"{start:#x}", end=f"{end:#x}") + ">"
            f'<line x1="{x:.1f}" y1="{mid:.1f}" x2="{x + w:.1f}" y2="{mid:.1f}" stroke="currentColor" stroke-opacity="0.35" '
            f'stroke-dasharray="2 5"/><path d="{zig}" fill="none" stroke="currentColor" stroke-width="1"/>'
            + _text(x + w / 2, mid + 4, text, cls="ps-gap-label", size=11, anchor="middle", fill="currentColor",
                    style="paint-order: stroke; stroke: var(--color-background-primary, #fff); stroke-width: 4px")
            + "</g>")


def process_space_svg(space: ProcessSpace, title: str, uid: str = "ps") -> str:
    columns = len(space.processes)
    col_w = COLUMN_W[columns]
    width = AXIS_W + columns * col_w + (columns - 1) * 10 + 4
    full = width - AXIS_W - 4
    xs = [AXIS_W + k * (col_w + 10) for k in range(columns)]
    kernel, lower = _kernel_rows(space), _lower_rows(space, col_w)
    layout = space.layout
    body: list[str] = []
    y = 8.0
    shared = space.shared_half
    body.append(_text(4, y + 12, "higher addresses ↑", cls="ps-axis-note", size=11, fill="currentColor"))
    body.append(_text(width - 4, y + 12, "band height grows with log₂(size); unmapped space is one row: not to scale",
                      cls="ps-axis-note", size=11, anchor="end", fill="currentColor"))
    y += 22
    body.append(f'<g class="ps-shared-half"><title>{escape(shared.text)}</title>'
                + _text(AXIS_W, y + 12, "the kernel's half, one band per phase", cls="ps-heading", size=12.5,
                        weight="bold", fill="currentColor")
                + _text(AXIS_W, y + 27, f"its {shared.need('slots')} PML4 slots are the same in every process "
                        "(share_kernel_half)", cls="ps-note", size=11.5, fill="currentColor") + "</g>")
    y += 34
    edges: list[tuple[float, int]] = []

    def axis(at: float, address: int) -> None:
        edges.append((at, address))

    for row in kernel.rows:
        h = row["height"]
        if row["kind"] == "gap":
            body.append(_gap(row["start"], row["end"], AXIS_W, y, full, f"not mapped · {fmt_approx(row['end'] - row['start'])}", h))
        else:
            body.append(_kernel_band(row["band"], AXIS_W, y, h, full))
        axis(y, row["end"])
        y += h
    axis(y, space.upper_half_start)
    hole = 34
    body.append('<g class="ps-hole"' + _data(start=f"{layout.lower_half_end:#x}", end=f"{space.upper_half_start:#x}") + ">"
                f'<rect x="{AXIS_W}" y="{y + 2:.1f}" width="{full}" height="{hole - 4}" fill="none" stroke="currentColor" '
                f'stroke-opacity="0.4" stroke-dasharray="1 4"/>'
                + _text(AXIS_W + full / 2, y + hole / 2 + 4, "the non-canonical hole: bits 63…47 must all be equal, "
                        "so no address here exists", cls="ps-hole-label", size=11.5, anchor="middle", fill="currentColor")
                + f'<path d="M{AXIS_W - 4} {y + 6:.1f} l4 5 l-4 5 l4 5 l-4 5" fill="none" stroke="currentColor"/></g>')
    y += hole + 6  # the lower half's first row labels its top, lower-half-end
    for k, process in enumerate(space.processes):
        heading = f"pid {process.pid} · {process.name}" + (f" · forked from pid {process.parent}" if process.parent else "")
        body.append('<g class="ps-process"' + _data(pid=process.pid, name=process.name)
                    + f"><title>{escape(chr(10).join(process.lines))}</title>"
                    + _text(xs[k], y + 12, heading + (" · its lower half" if columns == 1 else ""), cls="ps-heading",
                            size=12.5, weight="bold", fill="currentColor") + "</g>")
    y += 20
    tops: dict[tuple[int, int], float] = {}  # (column, piece start) -> top of its first row
    for index, row in enumerate(lower.rows):
        h, low, high = row["height"], row["start"], row["end"]
        axis(y, high)
        if row["kind"] == "reserved":
            if low == 0:
                text = [(f"nothing below lowest={layout.lowest:#x} ({fmt_size(layout.lowest)})", True, False),
                         ("a null pointer plus an offset faults here", False, False)]
            else:
                text = [(f"nothing at or above limit={layout.limit:#x}", True, False),
                         (f"the last {fmt_size(high - low)} of the lower half stays empty", False, False)]
            body.append('<g class="ps-region ps-reserved"' + _data(kind="reserved", start=f"{low:#x}", end=f"{high:#x}")
                        + f"><title>{escape(layout.line)}</title>"
                        f'<rect x="{AXIS_W}" y="{y + 1:.1f}" width="{full}" height="{h - 2:.1f}" rx="3" '
                        f'fill="url(#{uid}-hatch)" stroke="#555" stroke-width="1"/>'
                        + _label(AXIS_W + 10, y, text) + "</g>")
        elif row["kind"] == "gap":
            body.append(_gap(low, high, AXIS_W, y, full, f"not mapped · {fmt_approx(high - low)}"))
        else:
            for k, process in enumerate(space.processes):
                p = next((q for q in process.pieces if q.start <= low and high <= q.end), None)
                if p is None:
                    continue
                if p.end == high:
                    tops[(k, p.start)] = y
                if p.start == low:  # its last (lowest) row: draw it over all its rows
                    top = tops[(k, p.start)]
                    others = [o for o in space.processes if o is not process]
                    body.append(_piece(p, process, others, xs[k], top, y + h - top, col_w, uid))
        y += h
    axis(y, 0)
    body.append(_text(4, y + 16, "lower addresses ↓", cls="ps-axis-note", size=11, fill="currentColor"))
    if space.fork is not None:
        # One cell a page: what became of it in this column's process after the fork.
        legend = [("copied", "written here: a copy made"),
                  ("taken-over", "written here, no other mapping left: taken over"),
                  ("copied-by-other", "copied by the other: now this side's alone"),
                  ("shared", "written by neither: one frame for both")]
        for k, (state, text) in enumerate(legend):
            x, at = AXIS_W + (k % 2) * (full / 2), y + 8 + 16 * (k // 2)
            body.append(f'<rect class="ps-legend-cell" x="{x:.1f}" y="{at:.1f}" width="12" height="10" fill="{CELL_COLOURS[state]}" '
                        f'stroke="#555" stroke-width="0.5"/>'
                        + _text(x + 16, at + 9, text, cls="ps-legend", size=11, fill="currentColor"))
        y += 32
    last = None
    for at, address in edges:
        if last is not None and abs(at - last) < 11:
            continue  # two edges at one height (a zero-height step): label the first
        shown = "2⁶⁴" if address == 1 << 64 else f"{address:#x}"  # the top of the address space, one past its last byte
        body.append(_text(AXIS_W - 10, at + 4, shown, cls="ps-axis", size=10.5, anchor="end", mono=True, fill="currentColor"))
        body.append(f'<line x1="{AXIS_W - 6}" y1="{at:.1f}" x2="{AXIS_W}" y2="{at:.1f}" stroke="currentColor"/>')
        last = at
    return _svg(width, y + 26, title, [_hatch(uid)] + body, "process-space")
