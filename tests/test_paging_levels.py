"""The Python page-table readers at 4 and 5 levels, on synthetic tables. No QEMU is started.

``kpt`` (scripts/gdb/kgdb.py) and the tests' page walks
(tests/harness/inspections.py) read tables through ``kmodel``, which walks
from a PML5 when CR4.LA57 (bit 12) is set; ``paging_model`` predicts how many
tables a set of leaves needs at either depth; the book's ``{page-walk}``
diagram cuts an address into five indices when the log says ``levels=5``. Chapter 16 boots a 5-level
kernel; until then these tables are the only 5-level ones the readers see, so
they are built here by hand, entry by entry.
"""

from __future__ import annotations

import struct
import sys

import pytest

import harness
from harness.paging_model import GiB, MiB, PAGE, paging_levels, tables_needed

sys.path.insert(0, str(harness.REPO_ROOT / "scripts" / "gdb"))
sys.path.insert(0, str(harness.REPO_ROOT / "book" / "_ext"))
import kmodel  # noqa: E402
from kernelbook import diagram_model, diagram_svg  # noqa: E402

LA57 = 1 << 12
ABOVE_47 = 0x0080_0000_0000_0000      # 2^55: PML5 entry 128
LOWER_TOP = 0x00FF_FFFF_FFFF_F000     # the last page of the 57-bit lower half
UPPER_BOTTOM = 0xFF00_0000_0000_0000  # the first address of the 57-bit upper half
UPPER_TOP = 0xFFFF_FFFF_FFFF_F000     # the last page of all
KERNEL = 0xFFFF_FFFF_8000_0000        # where the 4-level kernel is linked; also PML5 entry 511's
FIVE_LEVEL_SHIFTS = (48, 39, 30, 21, 12)


class Tables:
    """Physical memory of 4 KiB tables, filled by :meth:`map` the way a
    page-table builder would: the indices cut from the address by shifts
    written out here (not kmodel's), a new zeroed table for each missing entry."""

    def __init__(self, levels: int):
        self.shifts = FIVE_LEVEL_SHIFTS[5 - levels:]
        self.pages: dict[int, bytearray] = {}
        self.next_frame = 0x10_0000
        self.root = self.new_table()

    def new_table(self) -> int:
        frame, self.next_frame = self.next_frame, self.next_frame + PAGE
        self.pages[frame] = bytearray(PAGE)
        return frame

    def entry(self, table: int, index: int) -> int:
        return struct.unpack_from("<Q", self.pages[table], index * 8)[0]

    def set(self, table: int, index: int, value: int) -> None:
        struct.pack_into("<Q", self.pages[table], index * 8, value)

    def map(self, va: int, pa: int, size: int, flags: int = kmodel.P | kmodel.RW | kmodel.NX) -> None:
        table = self.root
        for shift in self.shifts:
            index = (va >> shift) & 0x1FF
            if 1 << shift == size:  # the leaf's level
                self.set(table, index, pa | flags | (kmodel.PS if size > PAGE else 0))
                return
            if not self.entry(table, index) & kmodel.P:
                self.set(table, index, self.new_table() | kmodel.P | kmodel.RW)
            table = self.entry(table, index) & kmodel.ADDRESS_MASK
        raise AssertionError(f"no level maps {size:#x} bytes")

    def tables_below_root(self) -> int:
        return len(self.pages) - 1

    def read(self, address: int, length: int) -> bytes:
        page = self.pages.get(address & ~0xFFF, bytearray(PAGE))
        return bytes(page[address & 0xFFF:(address & 0xFFF) + length])


# (va, pa, size) of the 5-level space the host tests build too
# (tests/host/five_level_paging_test.cpp, FiveLevelSpace.MapsAbove2To47AndWalksItBack).
FIVE_LEVEL_PAGES = [
    (ABOVE_47, 0x30_0000, PAGE), (ABOVE_47 + PAGE, 0x30_1000, PAGE), (ABOVE_47 + 2 * MiB, 0x40_0000, 2 * MiB),
    (LOWER_TOP, 0x50_0000, PAGE), (UPPER_BOTTOM, GiB, GiB), (UPPER_TOP, 0x60_0000, PAGE),
]


@pytest.fixture
def five() -> Tables:
    tables = Tables(levels=5)
    for va, pa, size in FIVE_LEVEL_PAGES:
        tables.map(va, pa, size)
    return tables


def test_paging_levels_reads_cr4_la57():
    assert paging_levels(0x668) == 4            # PAE, MCE, PGE, OSFXSR, OSXMMEXCPT: what OVMF leaves on
    assert paging_levels(0x668 | LA57) == 5
    assert kmodel.levels_for(0x668) == kmodel.LEVELS_4
    assert [level.name for level in kmodel.levels_for(LA57)] == ["PML5", "PML4", "PDPT", "PD", "PT"]
    assert [level.shift for level in kmodel.levels_for(LA57)] == list(FIVE_LEVEL_SHIFTS)


def test_kpt_walks_five_levels_when_la57_is_set(five):
    walk = kmodel.walk(ABOVE_47 + 0x123, five.root, five.read, cr4=LA57)
    assert walk.levels == 5
    assert [s.level.name for s in walk.steps] == ["PML5", "PML4", "PDPT", "PD", "PT"]
    assert [s.index for s in walk.steps] == [128, 0, 0, 0, 0]
    assert walk.steps[0].entry_address == five.root + 128 * 8
    assert (walk.pa, walk.page_size, walk.access) == (0x30_0123, PAGE, "RW")

    walk = kmodel.walk(ABOVE_47 + 2 * MiB + 0x1_2345, five.root, five.read, cr4=LA57)
    assert [s.index for s in walk.steps] == [128, 0, 0, 1]
    assert (walk.pa, walk.page_size) == (0x41_2345, 2 * MiB)

    walk = kmodel.walk(UPPER_BOTTOM + 0x1234_5678, five.root, five.read, cr4=LA57)
    assert [s.index for s in walk.steps] == [256, 0, 0]
    assert (walk.pa, walk.page_size) == (GiB + 0x1234_5678, GiB)

    for va, indices in ((LOWER_TOP, [255, 511, 511, 511, 511]), (UPPER_TOP, [511] * 5)):
        walk = kmodel.walk(va + 0x10, five.root, five.read, cr4=LA57)
        assert [s.index for s in walk.steps] == indices, hex(va)
        assert walk.pa is not None and walk.page_size == PAGE

    walk = kmodel.walk(KERNEL, five.root, five.read, cr4=LA57)
    assert walk.pa is None and walk.problem == "PDPT[510] not present"  # the top page made PML5[511] and PML4[511]


def test_the_same_tables_read_at_four_levels_are_wrong(five):
    """Read without LA57, an address above 2^47 is not canonical, and the top
    page, canonical at both depths, lands on a page table instead of its
    page: the depth is the CPU's (CR4), not the reader's to guess."""
    assert kmodel.walk(ABOVE_47, five.root, five.read).problem == "not canonical for 4-level paging"
    assert kmodel.walk(UPPER_BOTTOM, five.root, five.read).problem == "not canonical for 4-level paging"
    short = kmodel.walk(UPPER_TOP, five.root, five.read)
    full = kmodel.walk(UPPER_TOP, five.root, five.read, cr4=LA57)
    assert short.levels == 4 and short.pa is not None
    assert short.pa != full.pa == 0x60_0000
    assert short.pa == full.steps[-2].entry & kmodel.ADDRESS_MASK  # the PT the PD entry points to


@pytest.mark.parametrize("va, at_4, at_5", [
    (0x0000_7FFF_FFFF_FFFF, True, True),
    (0x0000_8000_0000_0000, False, True),
    (0x00FF_FFFF_FFFF_FFFF, False, True),
    (0x0100_0000_0000_0000, False, False),
    (0xFEFF_FFFF_FFFF_FFFF, False, False),
    (0xFF00_0000_0000_0000, False, True),
    (0xFFFF_7FFF_FFFF_FFFF, False, True),
    (0xFFFF_8000_0000_0000, True, True),
])
def test_canonical_at_each_depth(va, at_4, at_5):
    assert kmodel.canonical(va, kmodel.LEVELS_4) is at_4
    assert kmodel.canonical(va, kmodel.LEVELS_5) is at_5


def test_all_leaves_at_five_levels_are_in_order_and_sign_extended_from_bit_56(five):
    leaves = kmodel.all_leaves(five.root, five.read, cr4=LA57)
    assert [(l.va, l.pa, l.size) for l in leaves] == sorted(FIVE_LEVEL_PAGES)
    assert kmodel.all_leaves(five.root, five.read) != leaves  # the 4-level reading differs


def test_ps_in_a_pml5_entry_is_reserved(five):
    five.set(five.root, 3, 0x4_0000_0000_0000 | kmodel.P | kmodel.PS)
    walk = kmodel.walk(3 << 48, five.root, five.read, cr4=LA57)
    assert walk.pa is None and walk.problem == "PML5[3] has PS set (reserved at this level)"
    assert (3 << 48) not in {l.va for l in kmodel.all_leaves(five.root, five.read, cr4=LA57)}


def test_tables_needed_counts_a_pml4_per_pml5_entry_at_five_levels(five):
    assert tables_needed(FIVE_LEVEL_PAGES, levels=5) == five.tables_below_root() == 4 + 4 + 2 + 4
    # At 4 levels, the kernel half as chapter 05 maps it: a PDPT, a PD per GiB with a smaller page, a PT.
    four = Tables(levels=4)
    pages = [(0xFFFF_8000_0000_0000, 0, GiB), (0xFFFF_8000_4000_0000, GiB, 2 * MiB),
             (0xFFFF_8000_4020_0000, GiB + 2 * MiB, PAGE), (KERNEL, 0x20_0000, PAGE)]
    for va, pa, size in pages:
        four.map(va, pa, size)
    assert tables_needed(pages) == tables_needed(pages, levels=4) == four.tables_below_root() == 1 + 1 + 1 + 1 + 1 + 1


# ---- the book's page-walk diagram ------------------------------------------------------

CHECK = "[INFO  paging] check what={what} va={va:#x} present=yes pa={pa:#x} page={page} flags=P|RW|NX\n"


def walk_from_log(switched: str, what: str, va: int, pa: int, page: str) -> diagram_model.Walk:
    text = CHECK.format(what=what, va=va, pa=pa, page=page) + switched + "\n"
    return diagram_model.page_walk(diagram_model.parse_log(text), check=what)


def test_the_page_walk_diagram_has_a_pml5_when_the_log_says_levels_5():
    walk = walk_from_log("[INFO  paging] switched cr3=0x10f000 levels=5", "high", ABOVE_47 + 0x123, 0x30_0123, "4KiB")
    assert walk.levels == 5
    assert walk.indices == [("PML5", 128), ("PML4", 0), ("PDPT", 0), ("PD", 0), ("PT", 0)]
    svg = diagram_svg.page_walk_svg(walk, "five levels")
    assert 'data-field="sign extension" data-bits="63:57"' in svg
    assert 'data-field="PML5" data-bits="56:48" data-value="128"' in svg
    assert 'data-step="PML5" data-index="128"' in svg

    walk = walk_from_log("[INFO  paging] switched cr3=0x10f000 levels=5", "top", UPPER_BOTTOM + 0x1234_5678,
                         GiB + 0x1234_5678, "1GiB")
    assert walk.indices == [("PML5", 256), ("PML4", 0), ("PDPT", 0)]


def test_without_levels_the_page_walk_diagram_stays_four_levels():
    walk = walk_from_log("[INFO  paging] switched cr3=0x10f000 pml4=0x10f000", "text", KERNEL + 0x1000, 0x7E26_C000, "4KiB")
    assert walk.levels == 4
    assert [name for name, _ in walk.indices] == ["PML4", "PDPT", "PD", "PT"]
    svg = diagram_svg.page_walk_svg(walk, "four levels")
    assert 'data-field="sign extension" data-bits="63:48"' in svg and "PML5" not in svg
