"""Chapter 01: the loader hands over, the kernel reports, QEMU agrees.

One boot is checked many ways: what the kernel printed against what the
loader printed, against kernel.elf itself, and against QEMU's own view of the
CPU and the page tables (QMP ``info registers`` / ``info mem`` / ``info tlb``),
read once the kernel has written its exit code.
"""

from __future__ import annotations

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot
from harness.elf import PF_W, PF_X, read_elf
from harness.firmware_vars import seasoned_vars
from harness.log import int_field, loader_memory_map, size_field
from harness.monitor import (
    parse_info_mem,
    parse_info_pci_memory_bars,
    parse_info_registers,
    parse_info_tlb,
    ranges_covering,
)
from harness.protections import check_protections
from harness.screen import INFO_COLOUR, screen_against_log

CHAPTER = "01-boot"
COMMAND_LINE = "loader.dump-map"
PAGE = 4096
KERNEL_LINK_BASE = 0xFFFF_FFFF_8000_0000
CR0_WP = 1 << 16
EFER_NXE = 1 << 11


@pytest.fixture(scope="module")
def finished(built):
    # The boot the chapter's page quotes for the loader's map dump.
    result = harness.boot(inspected_boot(CHAPTER, COMMAND_LINE))
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def kernel_elf():
    return read_elf(harness.chapter_kernel(CHAPTER).read_bytes())


def region_containing(memory_map, address, size=1):
    for kind, start, end in memory_map:
        if start <= address and address + size <= end:
            return kind
    return None


def test_banner_and_ready(finished):
    assert only(finished, "kernel", "hello from the higher half").fields["chapter"] == CHAPTER
    assert only(finished, "kernel", "ready").fields["chapter"] == CHAPTER
    # Nothing went wrong on the way.
    assert not [r for r in finished.records if r.level in ("WARN", "ERROR", "PANIC")]


def test_handoff_header(finished):
    header = only(finished, "handoff", "header")
    assert int_field(header, "magic").to_bytes(8, "little") == b"MHANDOFF"
    assert int_field(header, "version") == 3  # 2: the boot-module table (chapter 12); 3: framebuffer masks
    assert int_field(header, "size") == 160 + 256 + 16 * 48 + 16  # the static_assert'ed layout


def test_memory_map_matches_the_loaders_dump(finished):
    summary = only(finished, "handoff", "memory map")
    entries = int_field(summary, "entries")
    descriptor_size = int_field(summary, "descriptor-size")
    assert descriptor_size >= 40 and descriptor_size % 8 == 0
    assert int_field(summary, "size") == entries * descriptor_size
    assert int_field(summary, "descriptor-version") == 1
    assert entries == len(loader_memory_map(finished.records)) > 10
    assert entries == int_field(only(finished, "loader", "boot services exited"), "map-entries")


def test_handoff_objects_live_in_loader_owned_memory(finished):
    memory_map = loader_memory_map(finished.records)
    summary = only(finished, "handoff", "memory map")
    jump = only(finished, "loader", "jump to kernel")
    bootstrap = only(finished, "handoff", "bootstrap")
    kernel = only(finished, "handoff", "kernel")
    assert region_containing(memory_map, int_field(jump, "handoff"), 1200) == "boot-handoff"
    assert region_containing(memory_map, int_field(summary, "address"), int_field(summary, "size")) == "boot-handoff"
    assert region_containing(memory_map, int_field(bootstrap, "pml4"), PAGE) == "boot-page-tables"
    assert region_containing(memory_map, int_field(bootstrap, "stack"), 64 * 1024) == "boot-stack"
    assert region_containing(memory_map, int_field(kernel, "pa"), size_field(kernel, "size")) == "kernel-image"


def test_kernel_placement_matches_the_elf(finished, kernel_elf):
    kernel = only(finished, "handoff", "kernel")
    loads = kernel_elf.loads
    lowest = min(s.vaddr for s in loads)
    top = max(s.vaddr + s.memsz for s in loads)
    span = (top + PAGE - 1) // PAGE * PAGE - lowest
    assert int_field(kernel, "va") == lowest == KERNEL_LINK_BASE + PAGE  # the guard page stays below
    assert size_field(kernel, "size") == span
    assert int_field(kernel, "pa") % PAGE == 0
    assert int_field(only(finished, "loader", "jump to kernel"), "entry") == kernel_elf.entry
    # One loader line per PT_LOAD segment, with the ELF's own numbers.
    segments = [r for r in finished.records_for("loader") if r.event == "segment"]
    assert [(int_field(r, "va"), int_field(r, "memsz")) for r in segments] == [(s.vaddr, s.memsz) for s in loads]


def test_framebuffer_lies_in_the_vga_bar(finished):
    fb = only(finished, "handoff", "framebuffer")
    base, width, height, stride = (int_field(fb, k) for k in ("base", "width", "height", "stride"))
    size = size_field(fb, "size")
    assert fb.fields["format"] in ("bgrx", "rgbx")
    assert width > 0 and height > 0 and stride >= width
    assert stride * height * 4 <= size
    vga_bars = [b for b in parse_info_pci_memory_bars(finished.monitor["info pci"]) if b.device == "VGA controller"]
    assert any(b.start <= base and base + size - 1 <= b.end for b in vga_bars), (hex(base), vga_bars)


def test_rsdp_is_real_and_in_acpi_memory(finished):
    acpi = only(finished, "handoff", "acpi")
    assert acpi.fields["signature"] == "ok"
    assert int_field(acpi, "revision") == 2  # OVMF publishes ACPI 2.0+ tables
    assert region_containing(loader_memory_map(finished.records), int_field(acpi, "rsdp"), 36) in ("acpi-reclaim", "acpi-nvs")


def test_command_line_passes_through(finished):
    expected = COMMAND_LINE
    assert only(finished, "handoff", "command line").fields["text"] == expected
    assert only(finished, "loader", "command line").fields["text"] == expected


def test_cpu_state_agrees_with_qemu(finished):
    state = only(finished, "cpu", "state")
    registers = parse_info_registers(finished.monitor["info registers"])
    assert int_field(state, "cr3") == registers["CR3"] & ~0xFFF == int_field(only(finished, "handoff", "bootstrap"), "pml4")
    assert state.fields["wp"] == "yes" and registers["CR0"] & CR0_WP
    assert state.fields["nxe"] == "yes" and registers["EFER"] & EFER_NXE


def test_kernel_sections_have_the_elf_permissions_in_qemus_tables(finished, kernel_elf):
    mem = parse_info_mem(finished.monitor["info mem"])
    tlb = {e.va: e for e in parse_info_tlb(finished.monitor["info tlb"])}
    for segment in kernel_elf.loads:
        start = segment.vaddr // PAGE * PAGE
        end = (segment.vaddr + segment.memsz + PAGE - 1) // PAGE * PAGE
        covering = ranges_covering(mem, start, end)
        assert covering and covering[0].start <= start and covering[-1].end >= end, f"segment {segment.index} unmapped"
        assert all(r.writable == bool(segment.flags & PF_W) and not r.user for r in covering)
        for va in range(start, end, PAGE):
            assert tlb[va].no_execute == (not segment.flags & PF_X), hex(va)
            assert not (tlb[va].writable and not tlb[va].no_execute), f"W+X page at {va:#x}"
    # The page below the image is the guard: not mapped.
    assert KERNEL_LINK_BASE not in tlb


def trampoline(finished) -> range:
    """The handover trampoline's page, as the ``bootstrap tables`` line names it."""
    start = int_field(only(finished, "loader", "bootstrap tables"), "trampoline")
    assert start == int_field(only(finished, "loader", "handover trampoline"), "pa")
    return range(start, start + PAGE)


def kernel_frames(finished) -> range:
    handoff = only(finished, "handoff", "kernel")
    pa = int_field(handoff, "pa")
    return range(pa, pa + size_field(handoff, "size"))


def split_blocks(finished) -> set[int]:
    """The 2 MiB blocks of the identity map that need 4 KiB pages: page 0's, the trampoline's, the kernel frames'."""
    two_mib = 2 << 20
    return {0} | {a // two_mib for r in (trampoline(finished), kernel_frames(finished)) for a in (r.start, r.stop - 1)}


def test_bootstrap_tables_are_counted_and_what_is_unused_given_back(finished):
    tables = only(finished, "loader", "bootstrap tables")
    pages = int_field(tables, "table-pages")
    assert pages <= int_field(tables, "table-pages-reserved")
    pml4 = int_field(tables, "pml4")
    # Exactly the pages in use, the bound's unused tail given back to the firmware,
    # and beside them the handover trampoline's data page (its GDT and parameters).
    data = int_field(only(finished, "loader", "handover trampoline"), "data")
    held = {page for kind, start, end in loader_memory_map(finished.records) if kind == "boot-page-tables"
            for page in range(start, end, PAGE)}
    assert held == set(range(pml4, pml4 + pages * PAGE, PAGE)) | {data}
    # PML4 + PDPT + 4 PDs for the 4 GiB identity map; a PT for the first 2 MiB
    # (page 0 is not mapped) and one per 2 MiB block holding the trampoline's
    # page or the kernel's frames (4 KiB pages with their own rights); PDPT + PD +
    # one PT for the kernel image.
    assert pages == 1 + 1 + 4 + len(split_blocks(finished)) + 3


def test_identity_map_is_data_only_but_for_the_trampoline_page(finished):
    tlb = parse_info_tlb(finished.monitor["info tlb"])
    identity = [e for e in tlb if e.va < 1 << 47]
    assert all(e.va == e.pa for e in identity)
    assert min(e.va for e in identity) == PAGE  # page 0 is not mapped: a null dereference faults
    page, frames = trampoline(finished), kernel_frames(finished)
    assert page.stop <= 1 << 32  # its 32-bit code must reach it (handover_trampoline.h)
    for e in identity:
        if e.va in page:
            assert not e.no_execute and not e.writable and not e.huge, hex(e.va)
        elif e.va in frames:
            assert e.no_execute and not e.writable and not e.huge, hex(e.va)
        else:
            assert e.no_execute and e.writable, hex(e.va)
    top = size_field(only(finished, "loader", "bootstrap tables"), "identity")
    assert top % (1 << 30) == 0
    assert sum((2 << 20) if e.huge else PAGE for e in identity) == top - PAGE
    assert all(e.huge or e.va // (2 << 20) in split_blocks(finished) for e in identity)  # 2 MiB pages elsewhere


def test_the_section_report_matches_the_elf(finished, kernel_elf):
    sections = {r.fields["name"]: r for r in finished.records_for("kernel") if r.event == "section"}
    assert list(sections) == ["text", "rodata", "data"]
    assert int_field(sections["text"], "va") == min(s.vaddr for s in kernel_elf.loads)
    for name, flags in (("text", PF_X), ("rodata", 0), ("data", PF_W)):
        segment = next(s for s in kernel_elf.loads if s.vaddr == int_field(sections[name], "va"))
        assert segment.flags & (PF_X | PF_W) == flags


class TestPlainBoot:
    """Without `hold` and with an empty command line, the kernel exits by itself.
    (The book boots the same for its first log, and make test reads that back; a
    missing cmdline.txt is test_01_loader_rejects.py's missing-kernel boot.)"""

    def test_exits_with_the_success_code(self, built):
        result = harness.boot(harness.BootConfig(CHAPTER, cmdline=""))
        harness.assert_outcome(result, "success")
        assert result.exit_status == harness.load_exit_codes().success_status
        assert only(result, "handoff", "command line").fields["text"] == ""
        assert result.records[-1].event == "ready"
        assert only(result, "kernel", "global constructors").fields["ran"] == "yes"


def test_loader_image_base_is_handed_over_for_gdb(finished):
    base = int_field(only(finished, "handoff", "bootstrap"), "loader-image-base")
    assert base == int_field(only(finished, "loader", "start"), "image-base")
    assert region_containing(loader_memory_map(finished.records), base, PAGE) == "loader-code"


def test_the_trampoline_and_the_tables_it_loads_lie_below_4_gib_and_the_trampoline_in_loader_code(finished):
    tables = only(finished, "loader", "bootstrap tables")
    page = trampoline(finished).start
    regions = loader_memory_map(finished.records)
    assert region_containing(regions, page, PAGE) == "loader-code"
    assert int_field(tables, "pml4") + int_field(tables, "table-pages") * PAGE <= 1 << 32


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_boots_start_from_a_variable_store_that_has_booted_once(finished):
    """The harness keeps the store a first boot filled (harness/firmware_vars.py): the firmware
    then has its boot options already and skips about 0.45 s of emulated flash writes."""
    store = seasoned_vars(finished.config.machine, CHAPTER)
    assert store.read_bytes() != harness.OVMF_VARS.read_bytes(), "the kept store is still the empty one"
    assert len(store.read_bytes()) == len(harness.OVMF_VARS.read_bytes())
    assert finished.outcome == "success"


def test_the_screen_shows_the_kernels_log(finished):
    """The screen console draws through the loader's identity map: QEMU's
    screendump, decoded cell by cell with the same PSF font, shows every line
    the kernel logged from its console line to `ready`, in INFO's colour."""
    reading = screen_against_log(finished)
    assert reading.used == len(reading.drawn), "chapter 01's log fits one screen: nothing may have scrolled away"
    assert reading.rows[0].text.startswith("[INFO  screen] console base=")
    assert reading.rows[reading.used - 1].text.startswith("[INFO  kernel] ready")
    assert {colour for row in reading.rows[:reading.used] for colour in row.colours} == {INFO_COLOUR}
    console = only(finished, "screen", "console")
    framebuffer = only(finished, "handoff", "framebuffer")
    for key in ("base", "width", "height", "stride", "format"):
        assert console.fields[key] == framebuffer.fields[key]
