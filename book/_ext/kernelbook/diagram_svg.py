"""SVG drawings of :mod:`kernelbook.diagram_model`'s address space and page
walk, for the ``{address-space}`` and ``{page-walk}`` directives:
:func:`address_space_svg` and :func:`page_walk_svg`.

The SVG is built as a string, one ``<g>`` per band with ``data-*`` attributes
holding the values it was drawn from and a ``<title>`` holding the log lines
themselves (a tooltip in a browser).
"""

from __future__ import annotations

import math
from html import escape

from .diagram_model import KIB4, LEVELS, LEVELS_5, PAGE_SIZES, AddressSpace, Region, Walk, fmt_approx, fmt_pages, fmt_size

# ---------------------------------------------------------------------------
# Labels and SVG helpers
# ---------------------------------------------------------------------------

# The non-canonical hole of 4-level paging (48-bit virtual addresses).
CANONICAL_LOW_END = 1 << 47
CANONICAL_HIGH_START = (1 << 64) - (1 << 47)


def rights(flags: str) -> str:
    """``P|RW|NX`` → ``rw-``: what the flags allow (read, write, execute)."""
    names = set(flags.split("|"))
    if "P" not in names:
        return "---"
    return "r" + ("w" if "RW" in names else "-") + ("-" if "NX" in names else "x")


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
# {page-walk}: CR3 → (PML5 →) PML4 → PDPT → PD → PT → frame, for one logged translation
# ---------------------------------------------------------------------------

WALK_WIDTH = 760


def page_walk_svg(walk: Walk, title: str, uid: str = "pw") -> str:
    body: list[str] = []
    levels = LEVELS_5 if walk.levels == 5 else LEVELS
    width = WALK_WIDTH + (140 if walk.levels == 5 else 0)  # room for the PML5's field and table
    bits = [("sign extension", 63, levels[0][1] + 9, None)] + [
        (name, shift + 8, shift, index) for (name, index), (_, shift) in zip(walk.indices, levels)]
    low_bit = levels[len(walk.indices) - 1][1]
    bits.append(("offset", low_bit - 1, 0, walk.offset))
    # Top: the virtual address cut into its fields.
    body.append(_text(4, 18, f"virtual address {walk.va:#018x}" + (f"  ({walk.label})" if walk.label else ""),
                      cls="pw-va", size=14, weight="bold", mono=True, fill="currentColor"))
    widths = {"sign extension": 110, "offset": 124 if low_bit == 12 else 180}
    field_w = (width - 8 - widths["sign extension"] - widths["offset"]) / len(walk.indices)
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
    gap = (width - 8 - box_w * (len(steps) - 1) - frame_w) / (len(steps) - 1)
    y0 = 130
    for k, step in enumerate(steps):
        bx = 4 + k * (box_w + gap)
        if step == "frame":
            bx, box_w = width - 4 - frame_w, frame_w
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
    body.append(f'<path d="M{centres["offset"]:.1f} 88 L{width - 4 - frame_w / 2:.1f} {y0 - 1}" fill="none" stroke="#b3541e" stroke-opacity="0.7" stroke-dasharray="4 3"/>')
    defs = (f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M0 0 L10 5 L0 10 z" fill="currentColor"/></marker></defs>')
    return _svg(width, y0 + 190, title, [defs] + body, "page-walk")
