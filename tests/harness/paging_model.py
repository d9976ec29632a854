"""An independent model of the kernel's page-size policy, for the tests.

Written again in Python on purpose, from the policy's statement rather than
from the kernel's code: the largest page (1 GiB where the CPU has it, else
2 MiB, else 4 KiB) for which the virtual address, the physical address and
the bytes left all fit, and whose whole span has one MTRR type (SDM Vol. 3A,
11.11.9). Tests run it over the RAM ranges and the MTRRs the kernel printed
and compare the result with what the kernel logged and with QEMU's ``info tlb``.
Both RAM mappings cut their runs where a frame exception begins and ends
(:func:`frame_exceptions`) and map each piece on its own; the model does the
same with the exceptions it derives from the loader's lines.

The MTRR types are worked out another way than the kernel's: the type of an
address by the SDM's precedences (11.11.4.1), and a span is uniform when the
type at every range edge inside it equals the type at its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .log import int_field, size_field

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PAGE = 4 * KiB


#: The range classes that are RAM, which the identity map and the window map;
#: ``reserved`` and ``device`` ranges are listed but never mapped.
RAM_CLASSES = frozenset({"usable", "loader-owned", "firmware"})


def ram_runs(result, floor: int = 0) -> list[tuple[int, int]]:
    """The RAM the kernel printed (every ``[memmap] range`` of a RAM class),
    touching ranges merged, everything below ``floor`` cut."""
    runs: list[list[int]] = []
    for r in result.records_for("memmap"):
        if r.event != "range" or r.fields["class"] not in RAM_CLASSES:
            continue
        start, end = int_field(r, "start"), int_field(r, "end")
        if runs and runs[-1][1] == start:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return [(max(s, floor), e) for s, e in runs if max(s, floor) < e]


#: The two rules for frames the RAM mappings treat differently.
READ_ONLY, LEFT_OUT = "read-only", "left-out"


def frame_exceptions(result) -> list[tuple[int, int, str, str]]:
    """(start, end, rule, what) of the frames the identity map and the window
    treat differently, from the policy's statement and what the *loader*
    printed (not the kernel): the frames of every kernel segment the loader
    loaded without W (text and rodata) are read-only, since they are
    executable or read-only at -2 GiB; the framebuffer's pages are left out,
    since they are write-combining at their own window. Sorted by address."""
    out = []
    for r in result.records_for("loader"):
        if r.event == "segment" and "W" not in r.fields["flags"]:
            pa = int_field(r, "pa")
            out.append((pa - pa % PAGE, _page_up(pa + int_field(r, "memsz")), READ_ONLY, "kernel-image"))
        elif r.event == "framebuffer" and "base" in r.fields and size_field(r, "size"):
            base = int_field(r, "base")
            out.append((base - base % PAGE, _page_up(base + size_field(r, "size")), LEFT_OUT, "framebuffer"))
    merged: list[list] = []
    for start, end, rule, what in sorted(out):
        if merged and merged[-1][1] == start and merged[-1][2] == rule:
            merged[-1][1] = end  # text then rodata: one block
        else:
            merged.append([start, end, rule, what])
    return [tuple(m) for m in merged]


def _page_up(address: int) -> int:
    return -(-address // PAGE) * PAGE


def ram_pieces(runs, exceptions) -> list[tuple[int, int, str]]:
    """The runs cut where an exception begins and ends: (start, end, rule),
    rule ``"rw"`` for plain RAM or the exception's; left-out pieces kept, so a
    caller sees them (:func:`mapped_pieces` drops them)."""
    pieces = []
    for start, end in runs:
        cuts = sorted({start, end} | {a for s, e, *_ in exceptions for a in (s, e) if start < a < end})
        for a, b in zip(cuts, cuts[1:]):
            rule = next((r for s, e, r, _ in exceptions if s <= a < e), "rw")
            pieces.append((a, b, rule))
    return pieces


def mapped_pieces(runs, exceptions) -> list[tuple[int, int]]:
    """What the policy maps of the runs, each piece on its own: every piece
    but the left-out ones (pass these to :func:`predicted_pages`)."""
    return [(a, b) for a, b, rule in ram_pieces(runs, exceptions) if rule != LEFT_OUT]


def read_only_frames(runs, exceptions) -> list[tuple[int, int]]:
    """The pieces of the runs that are mapped read-only."""
    return [(a, b) for a, b, rule in ram_pieces(runs, exceptions) if rule == READ_ONLY]


UC, WT, WB = "UC", "WT", "WB"
FIRST_MIB = 1 * MiB


@dataclass
class Mtrrs:
    """The MTRRs as the kernel's ``[mtrr]`` lines report them."""

    present: bool = False
    enabled: bool = False
    default: str = UC
    fixed: list[tuple[int, int, str]] = field(default_factory=list)      # (start, end, type), when in force
    variable: list[tuple[int, int, str]] = field(default_factory=list)   # (start, end, type)

    def type_at(self, pa: int) -> str:
        if not self.present:
            return WB
        if not self.enabled:
            return UC
        if pa < FIRST_MIB and self.fixed:
            return next(t for s, e, t in self.fixed if s <= pa < e)
        types = {t for s, e, t in self.variable if s <= pa < e}
        if not types:
            return self.default
        if UC in types:
            return UC
        if types == {WT, WB}:
            return WT
        return types.pop() if len(types) == 1 else "undefined"

    def edges(self) -> set[int]:
        """Every address where the type may change."""
        edges = {s for s, _, _ in self.fixed} | {e for _, e, _ in self.fixed}
        edges |= {s for s, _, _ in self.variable} | {e for _, e, _ in self.variable}
        return edges | ({FIRST_MIB} if self.fixed else set())

    def uniform(self, pa: int, size: int) -> bool:
        first = self.type_at(pa)
        return all(self.type_at(edge) == first for edge in self.edges() if pa < edge < pa + size)


def mtrrs_of(result) -> Mtrrs:
    """The MTRRs the kernel printed (one ``[mtrr] read`` line, then its ranges)."""
    lines = result.records_for("mtrr")
    read = [r for r in lines if r.event == "read"]
    assert len(read) == 1, f"expected one '[mtrr] read' line, found {len(read)}"
    if read[0].fields["present"] != "yes":
        return Mtrrs()
    mtrrs = Mtrrs(present=True, enabled=read[0].fields["enabled"] == "yes", default=read[0].fields["default"])
    for r in lines:
        if r.event == "variable":
            assert r.fields["size"] != "non-contiguous", "the model knows contiguous ranges only"
            start = int_field(r, "base")
            mtrrs.variable.append((start, start + size_field(r, "size"), r.fields["type"]))
        elif r.event == "fixed" and read[0].fields["fixed"] == "enabled":
            mtrrs.fixed.append((int_field(r, "start"), int_field(r, "end"), r.fields["type"]))
    assert len(mtrrs.variable) == int_field(read[0], "variable-ranges")
    return mtrrs


def largest_page(va: int, pa: int, left: int, one_gib: bool, mtrrs: Mtrrs | None = None) -> int:
    for size in ([GiB] if one_gib else []) + [2 * MiB]:
        if va % size == 0 and pa % size == 0 and left >= size and (mtrrs is None or mtrrs.uniform(pa, size)):
            return size
    return PAGE


def predicted_pages(runs, one_gib: bool, offset: int = 0, mtrrs: Mtrrs | None = None) -> list[tuple[int, int, int]]:
    """(va, pa, size) of every leaf the policy produces when each run is
    mapped at va = pa + offset."""
    pages = []
    for start, end in runs:
        pa = start
        while pa < end:
            size = largest_page(pa + offset, pa, end - pa, one_gib, mtrrs)
            pages.append((pa + offset, pa, size))
            pa += size
    return pages


def predicted_splits(runs, one_gib: bool, offset: int = 0, mtrrs: Mtrrs | None = None) -> int:
    """How many of those leaves are smaller than alignment alone allows:
    the large pages the MTRRs split (the phases' ``split-by-mtrr=``)."""
    return sum(1 for va, pa, size in predicted_pages(runs, one_gib, offset, mtrrs)
               if size < largest_page(va, pa, _left(runs, pa), one_gib))


def _left(runs, pa: int) -> int:
    return next(e for s, e in runs if s <= pa < e) - pa


def count_by_size(pages) -> dict[int, int]:
    return {size: sum(1 for *_, s in pages if s == size) for size in (PAGE, 2 * MiB, GiB)}


CR4_LA57 = 1 << 12


def paging_levels(cr4: int) -> int:
    """5 when CR4.LA57 (bit 12) is set, else 4: how many levels of tables the
    CPU walks (SDM Vol. 3A, 4.1.2), so how many :func:`tables_needed` counts."""
    return 5 if cr4 & CR4_LA57 else 4


def tables_needed(pages, levels: int = 4) -> int:
    """Tables below the root for these leaves in otherwise empty root slots:
    one per entry of a higher level that a smaller leaf passes through. At 4
    levels, a PDPT per 512 GiB touched, a PD per 1 GiB touched by a smaller
    page, a PT per 2 MiB touched by a 4 KiB page; at 5 levels also a PML4 per
    256 TiB touched."""
    spans = [1 << (12 + 9 * k) for k in range(levels - 1, 0, -1)]  # the root's entry span first
    return sum(len({va // span for va, _, size in pages if size < span}) for span in spans)
