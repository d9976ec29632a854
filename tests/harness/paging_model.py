"""An independent model of the kernel's page-size policy, for the tests.

Written again in Python on purpose, from the policy's statement rather than
from the kernel's code: the largest page (1 GiB where the CPU has it, else
2 MiB, else 4 KiB) for which the virtual address, the physical address and
the bytes left all fit. Tests run it over the RAM ranges the kernel printed
and compare the result with what the kernel logged and with QEMU's ``info tlb``.
"""

from __future__ import annotations

from .log import int_field

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


def largest_page(va: int, pa: int, left: int, one_gib: bool) -> int:
    for size in ([GiB] if one_gib else []) + [2 * MiB]:
        if va % size == 0 and pa % size == 0 and left >= size:
            return size
    return PAGE


def predicted_pages(runs, one_gib: bool, offset: int = 0) -> list[tuple[int, int, int]]:
    """(va, pa, size) of every leaf the policy produces when each run is
    mapped at va = pa + offset."""
    pages = []
    for start, end in runs:
        pa = start
        while pa < end:
            size = largest_page(pa + offset, pa, end - pa, one_gib)
            pages.append((pa + offset, pa, size))
            pa += size
    return pages


def count_by_size(pages) -> dict[int, int]:
    return {size: sum(1 for *_, s in pages if s == size) for size in (PAGE, 2 * MiB, GiB)}


def tables_needed(pages) -> int:
    """Tables below the PML4 for these leaves in otherwise empty PML4 slots: a
    PDPT per 512 GiB touched, a PD per 1 GiB touched by a smaller page, a PT
    per 2 MiB touched by a 4 KiB page."""
    pdpts = {va >> 39 for va, *_ in pages}
    pds = {va >> 30 for va, _, s in pages if s < GiB}
    pts = {va >> 21 for va, _, s in pages if s == PAGE}
    return len(pdpts) + len(pds) + len(pts)
