"""Chapter 05: the MemoryManager's phases and the phys-offset window.

Two boots (one class each, run in parallel), read over the monitor once the
kernel has written its exit code: ``-cpu max -m 8G`` (1 GiB pages, RAM on both
sides of the 32-bit PCI hole; the boot the chapter's page quotes) and ``-cpu
qemu64 -m 4G`` (no 1 GiB pages). Each is checked against QEMU's ``info tlb``
and an independent model of the page-size policy
(tests/harness/paging_model.py) run over the RAM ranges the kernel printed.
"""

from __future__ import annotations

import dataclasses

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot
from harness.log import int_field, size_field
from harness.monitor import parse_info_registers, parse_info_tlb
from harness.paging_model import (GiB, MiB, PAGE, count_by_size, frame_exceptions, mapped_pieces, mtrrs_of,
                                  predicted_pages, predicted_splits, ram_runs, read_only_frames, tables_needed)
from harness.protections import check_protections

CHAPTER = "05-paging"
WINDOW_BASE = 0xFFFF_8000_0000_0000
WINDOW_END = WINDOW_BASE + (64 << 40)
PHASES = ["phase identity_map_low_memory", "phase map_kernel_image", "phase map_phys_offset_regions"]


def never_mapped_ranges(result):
    """Device memory, and the memory the firmware reserved: listed, never RAM."""
    return [(int_field(r, "start"), int_field(r, "end"), r.fields["class"]) for r in result.records_for("memmap")
            if r.event == "range" and r.fields["class"] in ("device", "reserved")]


class WindowChecks:
    MEMORY: str
    CPU: str
    ONE_GIB: bool

    @pytest.fixture(scope="class")
    def finished(self, built):
        # The readings of the 8G -cpu max boot the chapter's page quotes, on each machine.
        result = harness.boot(dataclasses.replace(inspected_boot(CHAPTER, "", "8G"), memory=self.MEMORY, cpu=self.CPU))
        harness.assert_outcome(result, "success")
        return result

    @pytest.fixture(scope="class")
    def window(self, finished):
        return [e for e in parse_info_tlb(finished.monitor["info tlb"]) if WINDOW_BASE <= e.va < WINDOW_END]

    def test_protections_seen_by_qemu(self, finished):
        check_protections(finished, CHAPTER)

    def test_phases_run_in_the_constructors_order_then_the_switch(self, finished):
        events = [r.event for r in finished.records_for("paging") if r.event.startswith("phase") or r.event == "switched"]
        assert events == PHASES + ["switched"]
        harness.assert_ready_without_warnings(finished)

    def test_cr3_is_the_kernels_and_tables_are_reached_through_the_window(self, finished):
        switched = only(finished, "paging", "switched")
        assert switched.fields["tables-through"] == "phys-window"
        assert int_field(switched, "cr3") == parse_info_registers(finished.monitor["info registers"])["CR3"]

    def test_window_page_sizes_match_the_policy(self, finished):
        pieces = mapped_pieces(ram_runs(finished), frame_exceptions(finished))  # each mapped on its own
        pages = predicted_pages(pieces, self.ONE_GIB, offset=WINDOW_BASE, mtrrs=mtrrs_of(finished))
        counts = count_by_size(pages)
        phase = only(finished, "paging", "phase map_phys_offset_regions")
        assert (int_field(phase, "pages-4k"), int_field(phase, "pages-2m"), int_field(phase, "pages-1g")) == (
            counts[PAGE], counts[2 * MiB], counts[GiB])
        assert int_field(phase, "tables") == tables_needed(pages)
        assert int_field(phase, "split-by-mtrr") == predicted_splits(pieces, self.ONE_GIB,
                                                                     offset=WINDOW_BASE, mtrrs=mtrrs_of(finished))
        assert size_field(phase, "bytes") == sum(e - s for s, e in pieces)
        assert int_field(phase, "base") == WINDOW_BASE
        assert phase.fields["flags"] == "P|RW|NX"
        if self.ONE_GIB:
            assert counts[GiB] > 0
        else:
            assert counts[GiB] == 0
        # 4 KiB pages only at the edges of runs and of exceptions: never in the middle of a piece.
        for va, pa, size in pages:
            if size == PAGE:
                piece = next((s, e) for s, e in pieces if s <= pa < e)
                assert pa - piece[0] < 2 * MiB or piece[1] - pa <= 2 * MiB, f"4 KiB page in the middle at {pa:#x}"

    def test_qemu_sees_exactly_the_predicted_window(self, finished, window):
        exceptions = frame_exceptions(finished)
        pages = predicted_pages(mapped_pieces(ram_runs(finished), exceptions), self.ONE_GIB, offset=WINDOW_BASE,
                                mtrrs=mtrrs_of(finished))
        assert sorted((e.va, e.pa) for e in window) == sorted((va, pa) for va, pa, _ in pages)
        # Writable and NX, except the image's text and rodata: read-only (and NX), never writable here.
        read_only = read_only_frames(ram_runs(finished), exceptions)
        assert read_only, "the kernel image lies in RAM, so the window has a read-only piece"
        for e in window:
            writable = not any(s <= e.pa < end for s, end in read_only)
            assert e.writable == writable and e.no_execute and not e.user, f"{e.va:#x} {e.flags}"
        logged = [(int_field(r, "start"), int_field(r, "end")) for r in finished.records_for("paging")
                  if r.event == "read-only" and r.fields["phase"] == "map_phys_offset_regions"]
        assert logged == read_only
        small = {(va, pa) for va, pa, size in pages if size == PAGE}
        for e in window:
            assert e.huge == ((e.va, e.pa) not in small), f"{e.va:#x}"

    def test_no_device_or_reserved_memory_in_the_window(self, finished, window):
        assert any(c == "reserved" for *_, c in never_mapped_ranges(finished)), "OVMF reserves some RAM"
        for start, end, cls in never_mapped_ranges(finished):
            assert not [e for e in window if start <= e.pa < end], f"{cls} {start:#x}-{end:#x} in the window"
        # Nor anything between the end of low RAM and 4 GiB (the PCI hole), whatever the map says.
        low_end = max(e for s, e in ram_runs(finished) if e <= 1 << 32)
        assert not [e for e in window if low_end <= e.pa < 1 << 32]

    def test_the_mtrrs_are_ovmfs_and_leave_ram_write_back(self, finished):
        """What OVMF programs, as the kernel read it: WB by default, the legacy
        VGA hole UC through the fixed ranges, the 32-bit PCI hole UC through
        variable ranges; so every byte of RAM is WB and no page splits."""
        read = only(finished, "mtrr", "read")
        assert (read.fields["present"], read.fields["enabled"], read.fields["default"], read.fields["fixed"]) == (
            "yes", "yes", "WB", "enabled")
        assert 0 < int_field(read, "variable-ranges") <= int_field(read, "variable-slots")
        mtrrs = mtrrs_of(finished)
        assert mtrrs.type_at(0xA0000) == mtrrs.type_at(0xFF000) == "UC"
        for start, end, cls in never_mapped_ranges(finished):
            if cls == "device" and end <= 1 << 32:
                assert all(mtrrs.type_at(pa) == "UC" for pa in (start, end - PAGE)), f"device {start:#x}-{end:#x}"
        uc_below_4g = [(s, e) for s, e, t in mtrrs.variable if t == "UC" and s < 1 << 32]
        assert uc_below_4g and max(e for _, e in uc_below_4g) == 1 << 32, "the PCI hole up to 4 GiB is UC"
        for start, end in ram_runs(finished):  # WB at its start and wherever a type could change inside it
            assert {mtrrs.type_at(pa) for pa in mtrrs.edges() | {start} if start <= pa < end} == {"WB"}, \
                f"RAM {start:#x}-{end:#x}"
        assert int_field(only(finished, "paging", "phase map_phys_offset_regions"), "split-by-mtrr") == 0

    def test_the_self_check_reached_the_last_page_of_ram(self, finished, window):
        """The check reads usable RAM only; its last page is the last usable one."""
        check = only(finished, "window", "check passed")
        last = max(int_field(r, "end") for r in finished.records_for("memmap")
                   if r.event == "range" and r.fields["kind"] == "usable") - PAGE
        assert int_field(check, "last-ram-page") == last
        assert int_field(check, "last-ram-page-va") == WINDOW_BASE + last
        assert int_field(check, "addresses") > 100 and int_field(check, "written") > 0
        # QEMU has the leaf that translates it, where the policy puts it.
        pages = predicted_pages(mapped_pieces(ram_runs(finished), frame_exceptions(finished)), self.ONE_GIB,
                                offset=WINDOW_BASE, mtrrs=mtrrs_of(finished))
        va, pa, _ = next(p for p in pages if p[1] <= last < p[1] + p[2])
        assert (va, pa) in {(e.va, e.pa) for e in window}


class TestMax8G(WindowChecks):
    MEMORY, CPU, ONE_GIB = "8G", "max", True

    def test_the_window_spans_the_pci_hole(self, finished, window):
        assert any(e.pa >= 4 * GiB for e in window), "RAM above 4 GiB is in the window"
        assert any(e.pa < 2 * GiB for e in window)


class TestQemu64Without1GiBPages(WindowChecks):
    MEMORY, CPU, ONE_GIB = "4G", "qemu64", False
