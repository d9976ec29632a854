"""Chapter 06: PAT, memory types, the MMIO window and the framebuffer.

The plain boot on q35, the one the chapter's page quotes, is read over the
monitor once the kernel has written its exit code, and checked three ways:
against the kernel's own log lines, against QEMU's ``info tlb`` (which shows
PCD and PWT as the C and T columns, but not the PAT bit), and against the raw
page-table entries read with ``xp`` from the physical memory CR3 points to (a
walk done over the monitor, ``harness.inspections.mmio_page_walk``, which
does show the PAT bit). A QMP ``screendump`` shows what the kernel drew
through the write-combining mapping. Further boots: q35 with ``hpet=off``
(the HPET is reported absent and the boot still ends well), one boot that
hands the parser a damaged copy of each ACPI table in turn
(``test.corrupt-acpi=all``), each rejected by name, and one with a single
damaged table (``test.corrupt-acpi=HPET``), the ordinary way a boot ends on one.

QEMU's ``info registers`` does not show IA32_PAT, so the PAT value is checked
on the kernel's read-back only; the entries' PAT/PCD/PWT bits are checked
independently, and the test computes from them which PAT entry each selects.
"""

from __future__ import annotations

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot, page_table_leaves, parse_page_table_leaves, parse_page_walk, screen_ppm
from harness.log import int_field, size_field
from harness.monitor import parse_info_registers, parse_info_tlb
from harness.paging_model import ram_runs
from harness.protections import check_protections, memory_type, pat_in_force

CHAPTER = "06-mmio"
MMIO_BASE = 0xFFFF_C000_0000_0000
FB_BASE = 0xFFFF_D000_0000_0000
MiB = 1 << 20
PAGE = 4096

# SDM Vol. 3A, 11.12.4: the power-on PAT is WB, WT, UC-, UC, WB, WT, UC-, UC
# (PA0 in the low byte); the chapter changes PA4 alone, to WC (encoding 0x01).
PAT_POWER_ON = 0x0007_0406_0007_0406
PAT_EXPECTED = 0x0007_0401_0007_0406
WC, UC = 0x01, 0x00

# On q35, IA32_APIC_BASE resets to 0xFEE00000 (SDM Vol. 3A, 10.4.4), QEMU
# places the IOAPIC at 0xFEC00000 and the HPET at 0xFED00000.
DEVICES = [("lapic", 0xFEE0_0000), ("ioapic", 0xFEC0_0000), ("hpet", 0xFED0_0000)]
UC_FLAGS = "P|RW|NX|PCD|PWT"

# The bars draw_pattern() paints, left to right, as (R, G, B).
BARS = [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
        (255, 0, 255)]

P, RW, PWT, PCD, PS, PAT4K, PAT_LARGE, NX = 1, 1 << 1, 1 << 3, 1 << 4, 1 << 7, 1 << 7, 1 << 12, 1 << 63
ADDRESS = 0x000F_FFFF_FFFF_F000
CR0_NW, CR0_CD = 1 << 29, 1 << 30


def pat_index(entry: int, level: int) -> int:
    """Which PAT entry a leaf selects (SDM Vol. 3A, 11.12.3): PAT*4 + PCD*2 + PWT."""
    pat = entry & (PAT4K if level == 1 else PAT_LARGE)
    return (4 if pat else 0) | (2 if entry & PCD else 0) | (1 if entry & PWT else 0)


def pat_entry(value: int, index: int) -> int:
    return (value >> (8 * index)) & 0x7


# ---- the plain boot, read after its exit code ----------------------------------------------


@pytest.fixture(scope="module")
def finished(built):
    # The plain boot, which the chapter's page quotes. The readings include a
    # page walk done with xp from CR3, independent of the kernel's own
    # (harness.inspections.mmio_page_walk), and QEMU's screendump.
    result = harness.boot(inspected_boot(CHAPTER))
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def tlb(finished):
    return parse_info_tlb(finished.monitor["info tlb"])


@pytest.fixture(scope="module")
def raw(finished):
    return parse_page_walk(finished.monitor["mmio_page_walk"])


@pytest.fixture(scope="module")
def framebuffer(finished):
    loader = only(finished, "loader", "framebuffer")
    return {key: int_field(loader, key) for key in ("base", "width", "height", "stride")} | {
        "size": size_field(loader, "size")}


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_phases_in_order_and_a_clean_boot(finished):
    events = [r.event for r in finished.records_for("paging") if r.event.startswith("phase") or r.event == "switched"]
    assert events == ["phase identity_map_low_memory", "phase map_kernel_image", "phase map_phys_offset_regions",
                      "phase map_mmio_devices", "phase map_framebuffer", "switched"]
    harness.assert_ready_without_warnings(finished)
    # The PAT is programmed before the framebuffer's WC mapping exists.
    order = [r.event for r in finished.records if r.subsystem in ("mmio", "paging")]
    assert order.index("pat") < order.index("map framebuffer")


def test_pat_changes_pa4_to_write_combining_only(finished):
    pat = only(finished, "mmio", "pat")
    assert int_field(pat, "was") == PAT_POWER_ON  # OVMF leaves the power-on value
    assert int_field(pat, "now") == PAT_EXPECTED
    assert pat_entry(PAT_EXPECTED, 4) == WC and pat_entry(PAT_EXPECTED, 3) == UC
    # The change runs with the caches in no-fill mode (CR0.CD=1, SDM Vol. 3A
    # 11.11.8 step 4); QEMU's view after the boot: normal cache mode is back (step 12).
    cr0 = parse_info_registers(finished.monitor["info registers"])["CR0"]
    assert not cr0 & (CR0_CD | CR0_NW), f"caches left disabled after the PAT change: CR0={cr0:#x}"


def test_acpi_tables_found_through_the_xsdt(finished):
    tables = only(finished, "acpi", "tables")
    assert int_field(tables, "rsdp") == int_field(only(finished, "loader", "acpi"), "rsdp")
    assert tables.fields["root"] == "xsdt" and tables.fields["revision"] == "2"
    assert tables.fields["madt"] == "yes" and tables.fields["ioapics"] == "1" and tables.fields["hpet"] == "yes"
    # OVMF's XSDT has no empty slot and points only into RAM the reader can read.
    assert tables.fields["null"] == "0" and tables.fields["unreadable"] == "0"


def test_each_device_is_logged_uncached_in_consecutive_slots(finished):
    base = only(finished, "mmio", "apic base")
    assert int_field(base, "msr") & ADDRESS == 0xFEE0_0000
    assert base.fields["enabled"] == "yes"
    # TCG has no x2APIC: the APIC is in xAPIC mode, its MSR base the MADT's.
    assert base.fields["mode"] == "xapic"
    assert int_field(base, "madt-lapic") == int_field(base, "msr") & ADDRESS
    for slot, (name, pa) in enumerate(DEVICES):
        line = only(finished, "mmio", f"map {name}")
        assert int_field(line, "pa") == pa
        assert int_field(line, "va") == MMIO_BASE + slot * PAGE
        assert line.fields["size"] == "4KiB"
        assert line.fields["flags"] == UC_FLAGS
        assert line.fields["type"] == "UC"
    phase = only(finished, "paging", "phase map_mmio_devices")
    assert int_field(phase, "devices") == 3 and int_field(phase, "pages-4k") == 3


def test_qemu_tlb_shows_the_devices_uncached(tlb):
    window = sorted((e for e in tlb if MMIO_BASE <= e.va < FB_BASE), key=lambda e: e.va)
    assert [(e.va, e.pa) for e in window] == [(MMIO_BASE + i * PAGE, pa) for i, (_, pa) in enumerate(DEVICES)]
    for e in window:
        assert e.no_execute and e.writable and not e.user and not e.huge, f"{e.va:#x} {e.flags}"
        assert e.cache_disabled and e.write_through, f"{e.va:#x} {e.flags}: PCD and PWT select PA3"


def test_raw_device_entries_select_pa3_uc(raw):
    for slot in range(3):
        level, entry = raw[MMIO_BASE + slot * PAGE]
        assert level == 1 and entry & P
        assert not entry & PAT4K
        assert pat_entry(PAT_EXPECTED, pat_index(entry, level)) == UC


def test_devices_answer_through_their_mappings(finished):
    lapic = only(finished, "mmio", "lapic")
    assert lapic.fields["mode"] == "xapic"
    assert int_field(lapic, "version") == 0x50014  # QEMU's LAPIC: version 0x14, 6 LVT entries
    assert int_field(lapic, "max-lvt") == 5
    ioapic = only(finished, "mmio", "ioapic")
    assert int_field(ioapic, "version") == 0x170020  # QEMU's IOAPIC: version 0x20, 24 pins
    hpet = only(finished, "mmio", "hpet")
    caps = int_field(hpet, "capabilities")
    assert (caps >> 16) & 0xFFFF == 0x8086 == int_field(hpet, "vendor")
    assert caps >> 32 == 10_000_000 == int_field(hpet, "period-fs")  # 10 ns: QEMU's 100 MHz HPET
    assert caps & 0xFF == 1  # revision
    assert int_field(hpet, "timers") == ((caps >> 8) & 0x1F) + 1


def test_framebuffer_line_matches_the_loader(finished, framebuffer):
    line = only(finished, "mmio", "map framebuffer")
    assert int_field(line, "pa") == framebuffer["base"]
    assert int_field(line, "va") == FB_BASE
    size = (framebuffer["size"] + PAGE - 1) // PAGE * PAGE
    assert size_field(line, "size") == size
    assert line.fields["type"] == "WC"
    large = FB_BASE % (2 * MiB) == 0 and framebuffer["base"] % (2 * MiB) == 0 and size >= 2 * MiB
    assert line.fields["flags"] == ("P|RW|NX|PAT|PS" if large else "P|RW|NX|PAT")


def test_qemu_tlb_shows_the_framebuffer_without_pcd_pwt(tlb, framebuffer, finished):
    window = sorted((e for e in tlb if FB_BASE <= e.va < FB_BASE + (1 << 30)), key=lambda e: e.va)
    size = (framebuffer["size"] + PAGE - 1) // PAGE * PAGE
    # Contiguous, complete, each page as large as alignment allows.
    expect_va, expect_pa = FB_BASE, framebuffer["base"]
    counts = {PAGE: 0, 2 * MiB: 0}
    for e in window:
        assert (e.va, e.pa) == (expect_va, expect_pa)
        page = 2 * MiB if e.huge else PAGE
        fits = expect_va % (2 * MiB) == 0 and expect_pa % (2 * MiB) == 0 and FB_BASE + size - expect_va >= 2 * MiB
        assert e.huge == fits, f"{e.va:#x}"
        counts[page] += 1
        expect_va, expect_pa = expect_va + page, expect_pa + page
        # PA4 needs PCD = PWT = 0 (the PAT bit itself is not shown by info tlb).
        assert e.no_execute and e.writable and not e.user and not e.cache_disabled and not e.write_through
    assert expect_va == FB_BASE + size
    phase = only(finished, "paging", "phase map_framebuffer")
    assert (int_field(phase, "pages-4k"), int_field(phase, "pages-2m")) == (counts[PAGE], counts[2 * MiB])


def test_raw_framebuffer_entries_select_pa4_wc(raw, framebuffer):
    for va in (FB_BASE, FB_BASE + 2 * MiB):
        level, entry = raw[va]
        if not entry:
            continue  # a framebuffer smaller than 2 MiB + a page
        pat_bit = PAT4K if level == 1 else PAT_LARGE
        assert entry & pat_bit, f"{va:#x}: {entry:#x} has no PAT bit"
        assert pat_entry(PAT_EXPECTED, pat_index(entry, level)) == WC
        # In a large leaf bit 12 is PAT, not address: the frame is still the framebuffer's.
        mask = ADDRESS & ~PAT_LARGE & ~((1 << (12 + 9 * (level - 1))) - 1)
        assert entry & mask == framebuffer["base"] + (va - FB_BASE)
    assert raw[FB_BASE][0] == 2  # the first page is a 2 MiB PDE (QEMU's framebuffer is 2 MiB-aligned)


def test_screendump_shows_the_pattern(finished, framebuffer):
    pattern = only(finished, "fb", "pattern")
    assert int_field(pattern, "read-back") == int_field(pattern, "bars") == len(BARS)
    data = screen_ppm(finished)
    # Binary PPM: "P6\n<width> <height>\n255\n" then RGB triples.
    magic, dims, depth, pixels = data.split(b"\n", 3)
    width, height = map(int, dims.split())
    assert magic == b"P6" and depth == b"255"
    assert (width, height) == (framebuffer["width"], framebuffer["height"])
    for row in (height // 4, height // 2, 3 * height // 4):
        for bar, colour in enumerate(BARS):
            x = (2 * bar + 1) * width // (2 * len(BARS))
            at = 3 * (row * width + x)
            assert tuple(pixels[at:at + 3]) == colour, f"bar {bar} at ({x}, {row})"


# ---- other machines and damaged tables -------------------------------------------------


def test_without_hpet_the_kernel_says_so_and_boots(built):
    result = harness.boot(harness.BootConfig(CHAPTER, machine="q35,hpet=off", cmdline=""))
    harness.assert_outcome(result, "success")
    assert only(result, "acpi", "tables").fields["hpet"] == "no"
    assert only(result, "mmio", "hpet absent")
    assert not [r for r in result.records_for("mmio") if r.event in ("map hpet", "hpet")]
    assert int_field(only(result, "paging", "phase map_mmio_devices"), "devices") == 2
    assert int_field(only(result, "mmio", "lapic"), "version") == 0x50014
    assert [r for r in result.records_for("kernel") if r.event == "ready"]


# (test.corrupt-acpi value, the field its rejection names), in the order =all damages them
DAMAGED_TABLES = [("XSDT", "xsdt.checksum"), ("APIC", "madt.checksum"), ("HPET", "hpet.checksum")]
BAD_SUM = "the table's bytes must sum to 0 (mod 256)"


@pytest.fixture(scope="module")
def every_damaged_table(built):
    """One boot with test.corrupt-acpi=all: each table damaged on a fresh copy, each through the real parser."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.corrupt-acpi=all"))
    harness.assert_outcome(result, "failure")
    return result


def rejections(result) -> dict[str, list]:
    """table -> its WARN line and the records after it, up to the next one."""
    return harness.sweep_segments(result.records, "reading the tables with one damaged on request", "table", "acpi")


def test_every_damaged_table_is_tried_then_the_boot_fails(every_damaged_table):
    assert list(rejections(every_damaged_table)) == [t for t, _ in DAMAGED_TABLES]
    summary = [r for r in every_damaged_table.records_for("acpi") if r.event == "every damaged table tried"]
    assert len(summary) == 1 and summary[0] is every_damaged_table.records[-1]
    assert int_field(summary[0], "tables") == len(DAMAGED_TABLES) and int_field(summary[0], "accepted") == 0
    assert not [r for r in every_damaged_table.records_for("acpi") if r.event == "tables"]
    assert not [r for r in every_damaged_table.records_for("mmio") if r.event.startswith("map")]


def check_checksum_rejection(rejected, field):
    assert (rejected.subsystem, rejected.event) == ("acpi", "tables rejected")
    assert rejected.fields["field"] == field
    assert rejected.fields["rule"] == BAD_SUM
    # The flipped bit (0x20 in one byte) leaves the sum off by exactly that much.
    assert int_field(rejected, "value") in (0x20, 0xE0)


@pytest.mark.parametrize("signature, field", DAMAGED_TABLES, ids=[t for t, _ in DAMAGED_TABLES])
def test_damaged_acpi_table_is_rejected_by_name(every_damaged_table, signature, field):
    errors = [r for r in rejections(every_damaged_table)[signature] if r.level == "ERROR"]
    assert len(errors) == 1, [str(e) for e in errors]
    check_checksum_rejection(errors[0], field)


def test_one_damaged_table_ends_the_boot_with_its_rejection(built):
    """A single damaged table, as a reader tries it: the rejection is the last word, then the failure code."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.corrupt-acpi=HPET"))
    error = harness.the_rejection(result)
    check_checksum_rejection(error, "hpet.checksum")
    assert not [r for r in result.records_for("mmio") if r.event.startswith("map")]


# ---- a framebuffer in guest RAM (QEMU's ramfb) -----------------------------------------------
#
# Integrated GPUs scan out of system RAM; QEMU's ramfb does the same, and
# OVMF's QemuRamfbDxe allocates its framebuffer with AllocateReservedPages,
# so the memory map lists it as EfiReservedMemoryType inside RAM. The kernel
# sets it aside (kind framebuffer) and maps it WC at FB_BASE; the identity map
# and the window must not give any of its frames a second, write-back
# mapping. What a boot cannot show: a framebuffer the map calls conventional
# or boot-services data (no QEMU device and OVMF driver make one), whose
# frames the allocators would otherwise hand out; host tests cover that
# (tests/host/memory_map_test.cpp, frame_allocator_test.cpp,
# ram_run_mapper_test.cpp, steady_state_test.cpp: a fake map with the
# framebuffer across a conventional/boot-services-data edge). The one extra machine shape of
# the per-frame checks: every other boot has the VGA card's framebuffer in a
# PCI BAR, where no RAM mapping could reach it.


@pytest.fixture(scope="module")
def ramfb(built):
    config = harness.BootConfig(CHAPTER, cmdline="", display="ramfb",
                                monitor_commands=("info registers", "info tlb", page_table_leaves))
    result = harness.boot(config)
    harness.assert_outcome(result, "success")
    return result


def test_ramfb_framebuffer_is_reserved_ram_with_one_mapping_and_one_type(ramfb):
    loader = only(ramfb, "loader", "framebuffer")
    base, size = int_field(loader, "base"), size_field(loader, "size")
    end = base + -(-size // PAGE) * PAGE
    # In guest RAM (-m 256M: [0, 256 MiB) on q35), in a range the map calls reserved: RAM on both sides.
    assert end <= 256 * MiB, f"framebuffer {base:#x} not in guest RAM"
    # The map calls it reserved (QemuRamfbDxe: AllocateReservedPages); the kernel
    # sets it aside as a kind of its own, once, before anything allocates.
    set_aside = only(ramfb, "memmap", "set aside")
    assert (set_aside.fields["was"], size_field(set_aside, "ram")) == ("reserved", 0)
    holder = [r for r in ramfb.records_for("memmap") if r.event == "range"
              and int_field(r, "start") <= base and end <= int_field(r, "end")]
    assert [r.fields["kind"] for r in holder] == ["framebuffer"]
    assert (int_field(holder[0], "start"), int_field(holder[0], "end")) == (base - base % PAGE, end)
    runs = ram_runs(ramfb)
    reserved = (int_field(holder[0], "start"), int_field(holder[0], "end"))
    assert any(e <= reserved[0] for _, e in runs) and any(s >= reserved[1] for s, _ in runs), "RAM on both sides"
    assert not [r for r in runs if r[0] < end and base < r[1]], "the framebuffer is in a RAM run"
    # QEMU's view: each of its frames has exactly one leaf, the WC one in the framebuffer window.
    leaves = parse_page_table_leaves(ramfb.monitor["page_table_leaves"])
    pat = pat_in_force(ramfb)
    near = [leaf for leaf in leaves if leaf.pa < end and base - base % PAGE < leaf.end]
    for frame in range(base - base % PAGE, end, PAGE):
        over = [leaf for leaf in near if leaf.pa <= frame < leaf.end]
        assert len(over) == 1 and FB_BASE <= over[0].va < FB_BASE + (1 << 40), f"{frame:#x}: {over}"
        assert memory_type(over[0], pat) == "WC", f"{frame:#x}"
    phase = only(ramfb, "paging", "phase map_framebuffer")
    assert phase.fields["type"] == "WC" and size_field(phase, "bytes") == end - (base - base % PAGE)


def test_ramfb_protections_seen_by_qemu(ramfb):
    """Per frame, from QEMU's view: no frame writable and executable, none with two memory types."""
    check_protections(ramfb, CHAPTER)
    harness.assert_ready_without_warnings(ramfb)


# ---- ACPI tables in reserved memory ------------------------------------------------------------
#
# OVMF puts QEMU's ACPI tables in ACPI reclaim memory, which the identity map
# and the window cover; some PC firmware puts them in EfiReservedMemoryType,
# which no RAM mapping covers. `test.acpi-in-reserved`
# (chapters/06-mmio/acpi_in_reserved_memory.cpp) relabels the reclaim
# descriptors reserved before the kernel reads the map, the shape such
# firmware hands over; the tables' frames must then be read through the
# kernel's ACPI tables window alone, read-only, NX and WB.
ACPI_TABLES_BASE = 0xFFFF_C800_0000_0000


def table_frames(result) -> list[tuple[int, int, str, str]]:
    """The `map table-frame` lines: (pa, va, flags, type)."""
    return [(int_field(r, "pa"), int_field(r, "va"), r.fields["flags"], r.fields["type"])
            for r in result.records_for("acpi") if r.event == "map table-frame"]


def test_acpi_tables_in_firmware_ram_need_no_window(finished, tlb):
    """The plain boot: every table OVMF lists is in ACPI reclaim or NVS
    memory, read where RAM is mapped; the window maps nothing (QEMU agrees)."""
    tables = only(finished, "acpi", "tables")
    assert int_field(tables, "reserved-frames") == 0 and table_frames(finished) == []
    kinds = {r.fields["kind"] for r in finished.records_for("memmap") if r.event == "range"
             and int_field(r, "start") <= int_field(tables, "root-pa") < int_field(r, "end")}
    assert kinds <= {"acpi-reclaim", "acpi-nvs"}, kinds
    assert not [e for e in tlb if ACPI_TABLES_BASE <= e.va & (1 << 64) - 1 < ACPI_TABLES_BASE + (512 << 30)]


@pytest.fixture(scope="module")
def acpi_in_reserved(built):
    config = harness.BootConfig(CHAPTER, cmdline="test.acpi-in-reserved",
                                monitor_commands=("info registers", "info tlb", page_table_leaves))
    result = harness.boot(config)
    harness.assert_outcome(result, "success")
    return result


def test_acpi_tables_in_reserved_memory_are_read_through_their_own_window(acpi_in_reserved, finished):
    result = acpi_in_reserved
    assert only(result, "acpi", "acpi-reclaim relabelled reserved on request").fields["descriptors"] != "0"
    tables = only(result, "acpi", "tables")
    # The same tables and devices as the plain boot, read from reserved memory.
    plain = only(finished, "acpi", "tables")
    same = ("rsdp", "root-pa", "entries", "madt", "ioapics", "hpet")
    assert {k: tables.fields[k] for k in same} == {k: plain.fields[k] for k in same}
    assert [r.fields["pa"] for r in result.records_for("mmio") if r.event.startswith("map ")] == \
        [r.fields["pa"] for r in finished.records_for("mmio") if r.event.startswith("map ")]
    frames = table_frames(result)
    assert len(frames) == int_field(tables, "reserved-frames") > 0
    reserved = [(int_field(r, "start"), int_field(r, "end")) for r in result.records_for("memmap")
                if r.event == "range" and r.fields["kind"] == "reserved"]
    for pa, va, flags, memory in frames:
        assert va == ACPI_TABLES_BASE + pa and (flags, memory) == ("P|NX", "WB")
        assert any(s <= pa < e for s, e in reserved), f"{pa:#x} is not reserved memory"
    pages = {pa for pa, *_ in frames}
    for pointer in ("rsdp", "root-pa"):
        assert int_field(tables, pointer) & ~(PAGE - 1) in pages, pointer
    assert not [r for r in ram_runs(result) if any(r[0] <= pa < r[1] for pa in pages)], "a table frame is in a RAM run"
    # QEMU's view: the window holds exactly those frames, 4 KiB, read-only, NX, WB, and no other leaf maps them.
    leaves = parse_page_table_leaves(result.monitor["page_table_leaves"])
    pat = pat_in_force(result)
    window = [leaf for leaf in leaves if ACPI_TABLES_BASE <= leaf.va < ACPI_TABLES_BASE + (512 << 30)]
    assert sorted((leaf.va - ACPI_TABLES_BASE, leaf.pa, leaf.size) for leaf in window) == \
        sorted((pa, pa, PAGE) for pa in pages)
    for leaf in window:
        assert not leaf.writable and not leaf.executable and memory_type(leaf, pat) == "WB", leaf
    others = [leaf for leaf in leaves if leaf not in window and any(leaf.pa <= pa < leaf.end for pa in pages)]
    assert not others, others
    check_protections(result, CHAPTER)
