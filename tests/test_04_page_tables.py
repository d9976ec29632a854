"""Chapter 04: the kernel's own page tables, checked against QEMU's view of them.

Three boots (one class each, so pytest-xdist runs them in parallel), each read
over the monitor once the kernel has written its exit code:

* ``-cpu max -m 4G``: NX and 1 GiB pages, RAM above the 32-bit PCI hole;
* ``-cpu qemu64 -m 4G``: NX but no 1 GiB pages;
* ``-cpu qemu64,-nx``: no NX at all, so no entry may carry bit 63.

After the CR3 switch the tests ask QEMU for ``info registers``, ``info mem``
and ``info tlb`` and hold them against three oracles the kernel does not
control: the kernel ELF's own symbols (``nm``), the loader's log, and a Python
re-implementation of the largest-page rule run over the RAM ranges the kernel
printed.
"""

from __future__ import annotations

import dataclasses

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot
from harness.log import int_field, size_field
from harness.monitor import parse_info_mem, parse_info_registers, parse_info_tlb
from harness.paging_model import (READ_ONLY, count_by_size, frame_exceptions, mapped_pieces, mtrrs_of,
                                  predicted_pages, predicted_splits, ram_runs, read_only_frames, tables_needed)
from harness.protections import check_protections, kernel_symbols
from harness.screen import screen_against_log

CHAPTER = "04-page-tables"
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PAGE = 4 * KiB
KERNEL_LINK_BASE = 0xFFFF_FFFF_8000_0000
LOWER_HALF_END = 1 << 47
EFER_NXE = 1 << 11
CR4_PGE = 1 << 7
DATA_PROBE = 0xC0DE_CAFE_F00D  # g_data_probe in kernel_main.cpp


# ---- oracles ---------------------------------------------------------------


def symbols() -> dict[str, int]:
    """The linker-script symbols of kernel.elf, read by binutils, not by the kernel."""
    return kernel_symbols(CHAPTER)


def canonical(va: int) -> int:
    """QEMU prints upper-half addresses sign-extended already; keep them 64-bit."""
    return va & (1 << 64) - 1


def boot_inspected(memory: str, cpu: str) -> harness.BootResult:
    """The readings of the 4G ``-cpu max`` boot the chapter's page quotes, on
    each machine; for that machine it is the page's very boot."""
    result = harness.boot(dataclasses.replace(inspected_boot(CHAPTER, "", "4G"), memory=memory, cpu=cpu))
    harness.assert_outcome(result, "success")
    return result


# ---- the checks, run on each boot ---------------------------------------------


class PageTableChecks:
    MEMORY: str
    CPU: str
    NX: bool        # the CPU model has NX
    ONE_GIB: bool   # the CPU model has 1 GiB pages

    @pytest.fixture(scope="class")
    def finished(self, built):
        return boot_inspected(self.MEMORY, self.CPU)

    @pytest.fixture(scope="class")
    def tlb(self, finished):
        return parse_info_tlb(finished.monitor["info tlb"])

    @pytest.fixture(scope="class")
    def mem(self, finished):
        return parse_info_mem(finished.monitor["info mem"])

    def test_ready_and_only_the_expected_warnings(self, finished):
        assert only(finished, "kernel", "ready").fields["chapter"] == CHAPTER
        assert not [r for r in finished.records if r.level in ("ERROR", "PANIC")]
        warnings = [r.event for r in finished.records if r.level == "WARN"]
        assert warnings == ([] if self.NX else ["no NX: every mapped page is executable"])

    def test_cpu_features_as_the_kernel_read_them(self, finished):
        cpu = only(finished, "paging", "cpu")
        assert cpu.fields["nx"] == ("yes" if self.NX else "no")
        assert cpu.fields["page1gb"] == ("yes" if self.ONE_GIB else "no")
        assert int_field(cpu, "bootstrap-cr3") == int_field(only(finished, "loader", "bootstrap tables"), "pml4")

    def test_cr3_holds_the_kernels_own_pml4(self, finished):
        switched = only(finished, "paging", "switched")
        pml4 = int_field(switched, "pml4")
        registers = parse_info_registers(finished.monitor["info registers"])
        assert registers["CR3"] & ~0xFFF == pml4 == int_field(switched, "cr3")
        assert pml4 != int_field(only(finished, "loader", "bootstrap tables"), "pml4")
        assert bool(registers["EFER"] & EFER_NXE) == self.NX
        # The switch toggles CR4.PGE only where it found it on, and leaves it as found.
        assert switched.fields["global-pages"] == ("flushed" if registers["CR4"] & CR4_PGE else "off")

    def test_protections_seen_by_qemu(self, finished):
        if self.NX:
            check_protections(finished, CHAPTER)
        else:  # without NX every page is executable: only WP can hold, and NXE must stay off
            assert only(finished, "cpu", "protections").fields == {"wp": "yes", "nxe": "no", "smep": "no", "smap": "no"}

    def test_sections_are_logged_as_the_linker_laid_them_out(self, finished):
        sym = symbols()
        loaded = only(finished, "loader", "kernel loaded")
        va_base, pa_base = int_field(loaded, "va"), int_field(loaded, "pa")
        assert va_base == sym["__text_start"] == KERNEL_LINK_BASE + PAGE
        expected = {
            "text": (sym["__text_start"], sym["__text_end"]),
            "rodata": (sym["__rodata_start"], sym["__rodata_end"]),
            "data": (sym["__data_start"], sym["__boot_stack_guard"]),
            "stack": (sym["__boot_stack_bottom"], sym["__kernel_end"]),
        }
        logged = {r.fields["section"]: r for r in finished.records_for("paging") if r.event == "map"}
        assert list(logged) == list(expected)
        for name, (start, end) in expected.items():
            r = logged[name]
            assert int_field(r, "va") == start, name
            assert int_field(r, "pa") == pa_base + (start - va_base), name  # the loader's rule, guard not subtracted
            assert size_field(r, "size") == end - start, name
        nx = "|NX" if self.NX else ""
        assert [logged[n].fields["flags"] for n in expected] == ["P", "P" + nx, "P|RW" + nx, "P|RW" + nx]
        guards = {r.fields["name"]: int_field(r, "va") for r in finished.records_for("paging") if r.event == "guard"}
        assert guards == {"below-image": KERNEL_LINK_BASE, "boot-stack": sym["__boot_stack_guard"],
                          "above-image": sym["__kernel_end"]}

    def test_kernel_sections_have_exactly_the_intended_rights_in_qemus_tables(self, finished, tlb):
        sym = symbols()
        loaded = only(finished, "loader", "kernel loaded")
        va_base, pa_base = int_field(loaded, "va"), int_field(loaded, "pa")
        by_va = {canonical(e.va): e for e in tlb}
        rights = [  # (start, end, writable, executable)
            (sym["__text_start"], sym["__text_end"], False, True),
            (sym["__rodata_start"], sym["__rodata_end"], False, not self.NX),
            (sym["__data_start"], sym["__boot_stack_guard"], True, not self.NX),
            (sym["__boot_stack_bottom"], sym["__kernel_end"], True, not self.NX),
        ]
        for start, end, writable, executable in rights:
            for va in range(start, end, PAGE):
                e = by_va.get(va)
                assert e is not None, f"{va:#x} not mapped"
                assert not e.huge and not e.user, hex(va)
                assert e.pa == pa_base + (va - va_base), hex(va)
                assert e.writable == writable and e.no_execute == (not executable), f"{va:#x}: {e.flags}"
        image_pages = {va for e in tlb if (va := canonical(e.va)) >= KERNEL_LINK_BASE}
        assert len(image_pages) == sum((end - start) // PAGE for start, end, *_ in rights), "nothing else up there"

    def test_guard_pages_are_absent(self, finished, tlb, mem):
        sym = symbols()
        mapped = {canonical(e.va) for e in tlb}
        for guard in (KERNEL_LINK_BASE, sym["__boot_stack_guard"], sym["__kernel_end"]):
            assert guard not in mapped, hex(guard)
            assert not [r for r in mem if r.start <= guard < r.end], hex(guard)

    def test_page_zero_is_absent(self, tlb, mem):
        assert all(e.va != 0 for e in tlb)
        assert min(r.start for r in mem) == PAGE

    def test_nothing_is_writable_and_executable(self, tlb):
        if self.NX:
            assert not [hex(e.va) for e in tlb if e.writable and not e.no_execute]
        else:
            # Without NX every page is executable; at least no entry carries
            # the bit that would be reserved here.
            assert not [hex(e.va) for e in tlb if e.no_execute]

    def test_identity_map_covers_exactly_the_ram_ranges(self, finished, tlb, mem):
        runs = ram_runs(finished, floor=PAGE)
        exceptions = frame_exceptions(finished)
        identity = [r for r in mem if r.start < LOWER_HALF_END]
        merged: list[list[int]] = []
        for r in identity:  # QEMU splits ranges only where rights change; merge touching ones
            if merged and merged[-1][1] == r.start:
                merged[-1][1] = r.end
            else:
                merged.append([r.start, r.end])
        expected: list[list[int]] = []  # the mapped pieces, touching ones merged: the runs but for what is left out
        for start, end in mapped_pieces(runs, exceptions):
            if expected and expected[-1][1] == start:
                expected[-1][1] = end
            else:
                expected.append([start, end])
        assert merged == expected
        # Writable, except the frames of the image's text and rodata: read-only, as at -2 GiB.
        read_only = read_only_frames(runs, exceptions)
        assert read_only, "the kernel image lies in RAM, so the identity map has a read-only piece"
        assert all(r.writable == (not any(s <= r.start < e for s, e in read_only)) and not r.user for r in identity)
        for e in tlb:
            if e.va < LOWER_HALF_END:
                writable = not any(s <= e.pa < end for s, end in read_only)
                assert e.va == e.pa and e.writable == writable and not e.user and e.no_execute == self.NX, \
                    f"{e.va:#x} {e.flags}"
        # Nothing in a device or reserved range, even where RAM is on both sides of it.
        for r in finished.records_for("memmap"):
            if r.event == "range" and r.fields["class"] in ("device", "reserved"):
                start, end = int_field(r, "start"), int_field(r, "end")
                assert not [m for m in identity if m.start < end and start < m.end], \
                    f"{r.fields['class']} {start:#x}-{end:#x} mapped"

    def test_identity_page_sizes_match_an_independent_computation(self, finished, tlb):
        runs = ram_runs(finished, floor=PAGE)
        pieces = mapped_pieces(runs, frame_exceptions(finished))  # each mapped on its own
        mtrrs = mtrrs_of(finished)
        pages = predicted_pages(pieces, self.ONE_GIB, mtrrs=mtrrs)
        counts = count_by_size(pages)
        phase = only(finished, "paging", "phase identity_map_low_memory")
        assert (int_field(phase, "pages-4k"), int_field(phase, "pages-2m"), int_field(phase, "pages-1g")) == (
            counts[PAGE], counts[2 * MiB], counts[GiB])
        assert int_field(phase, "split-by-mtrr") == predicted_splits(pieces, self.ONE_GIB, mtrrs=mtrrs)
        assert size_field(phase, "bytes") == sum(end - start for start, end in pieces)
        assert int_field(phase, "runs") == len(runs)
        assert int_field(phase, "tables") == tables_needed(pages)
        assert phase.fields["flags"] == ("P|RW|NX" if self.NX else "P|RW")
        # Per run, too.
        logged_runs = [r for r in finished.records_for("paging") if r.event == "identity run"]
        assert [(int_field(r, "start"), int_field(r, "end")) for r in logged_runs] == runs
        # QEMU's leaves: one per predicted page, the small ones at the predicted addresses.
        identity = [e for e in tlb if e.va < LOWER_HALF_END]
        assert len(identity) == len(pages)
        assert sorted(e.va for e in identity if not e.huge) == sorted(a for a, _, s in pages if s == PAGE)
        assert sorted(e.va for e in identity if e.huge) == sorted(a for a, _, s in pages if s > PAGE)
        if self.ONE_GIB:
            assert counts[GiB] > 0, "4 GiB of RAM should take some 1 GiB pages"
        else:
            assert counts[GiB] == 0

    def test_the_image_is_read_only_in_the_identity_map_and_logged_so(self, finished, tlb):
        """The exception as the kernel logged it is the one the loader's segments give."""
        runs = ram_runs(finished, floor=PAGE)
        expected = [(s, e) for s, e, rule, what in frame_exceptions(finished) if rule == READ_ONLY]
        logged = [r for r in finished.records_for("paging") if r.event == "read-only"]
        assert [(int_field(r, "start"), int_field(r, "end")) for r in logged] == expected == read_only_frames(
            runs, frame_exceptions(finished))
        assert all(r.fields["phase"] == "identity_map_low_memory" and r.fields["what"] == "kernel-image" for r in logged)
        # Every text frame has exactly two addresses in QEMU's view: RX at -2 GiB, R+NX in the identity map.
        sym = symbols()
        text_pa = {e.pa for e in tlb if sym["__text_start"] <= canonical(e.va) < sym["__text_end"]}
        assert text_pa
        small = [e for e in tlb if e.va < LOWER_HALF_END and e.pa in text_pa]
        assert len(small) == len(text_pa) and not [e for e in small if e.writable], "text frames writable in the identity map"

    def test_kernel_phase_and_table_frames_add_up(self, finished):
        sym = symbols()
        phase = only(finished, "paging", "phase map_kernel_image")
        image_pages = (sym["__kernel_end"] - sym["__text_start"]) // PAGE - 1  # minus the stack guard
        assert int_field(phase, "pages-4k") == image_pages
        assert int_field(phase, "pages-2m") == int_field(phase, "pages-1g") == 0
        kernel_leaves = [(va, None, PAGE) for va in range(sym["__text_start"], sym["__kernel_end"], PAGE)
                         if va != sym["__boot_stack_guard"]]
        assert int_field(phase, "tables") == tables_needed(kernel_leaves)
        identity = int_field(only(finished, "paging", "phase identity_map_low_memory"), "tables")
        frames = only(finished, "frames", "page tables")
        assert int_field(frames, "frames") == 1 + identity + int_field(phase, "tables")
        assert int_field(frames, "from-reserve") + int_field(frames, "from-general") == int_field(frames, "frames")

    def test_the_software_walk_agreed_before_the_switch(self, finished):
        checks = {r.fields["what"]: r for r in finished.records_for("paging") if r.event == "check"}
        assert set(checks) == {"text-start", "kernel_main", "rodata-string", "bss-variable", "stack", "handoff", "pml4", "page-0",
                               "guard-below-image", "guard-boot-stack", "guard-above-image"}
        absent = {"page-0", "guard-below-image", "guard-boot-stack", "guard-above-image"}
        assert all(r.fields["present"] == ("no" if what in absent else "yes") for what, r in checks.items())
        sym = symbols()
        assert int_field(checks["text-start"], "va") == sym["__text_start"]
        assert sym["__text_start"] <= int_field(checks["kernel_main"], "va") < sym["__text_end"]
        assert sym["__rodata_start"] <= int_field(checks["rodata-string"], "va") < sym["__rodata_end"]
        assert sym["__boot_stack_bottom"] <= int_field(checks["stack"], "va") < sym["__kernel_end"]
        switched = only(finished, "paging", "switched")
        assert switched.line_number > max(r.line_number for r in checks.values())

    def test_the_kernel_keeps_running_after_the_switch(self, finished):
        sym = symbols()
        running = only(finished, "paging", "still running")
        assert int_field(running, "data-probe") == DATA_PROBE
        assert int_field(running, "call-result") == DATA_PROBE + 1
        assert running.fields["rodata"] == "yes"
        # The kernel runs on its own boot stack inside the image, above the guard.
        assert sym["__boot_stack_bottom"] <= int_field(running, "rsp") < sym["__boot_stack_top"]
        assert running.line_number > only(finished, "paging", "switched").line_number

    def test_the_screen_stops_at_the_switch_and_says_so(self, finished):
        """The new tables identity-map RAM only, not the framebuffer (device
        memory): the screen, decoded from QEMU's screendump, ends with the
        last line before the CR3 switch, and the serial log says at once
        that the console goes on serial only."""
        reading = screen_against_log(finished, drawn_until="[INFO  paging] switched ")
        assert reading.rows[reading.used - 1].text.startswith("[INFO  paging] check what=guard-above-image")
        switched = only(finished, "paging", "switched")
        serial_only = only(finished, "screen", "serial only")
        assert serial_only.line_number == switched.line_number + 1
        assert serial_only.fields["reason"] == "the new page tables do not map the framebuffer"
        assert int_field(serial_only, "cr3") == int_field(switched, "cr3")


class TestCpuMax4G(PageTableChecks):
    MEMORY, CPU, NX, ONE_GIB = "4G", "max", True, True


class TestQemu64Without1GiBPages(PageTableChecks):
    MEMORY, CPU, NX, ONE_GIB = "4G", "qemu64", True, False


class TestQemu64WithoutNx(PageTableChecks):
    MEMORY, CPU, NX, ONE_GIB = "256M", "qemu64,-nx", False, False


class TestRefusedMapping:
    """A refused map_range() ends the boot with a named rule and the failure code."""

    def test_mapping_the_image_twice_is_rejected_by_name(self, built):
        result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.remap", timeout=60))
        harness.assert_outcome(result, "failure")
        errors = [r for r in result.records if r.level in ("ERROR", "PANIC")]
        assert len(errors) == 1 and (errors[0].subsystem, errors[0].event) == ("paging", "map rejected"), errors
        error = errors[0]
        text = [r for r in result.records_for("paging") if r.event == "map" and r.fields["section"] == "text"]
        assert len(text) == 1, "text mapped once, then refused"
        text = text[0]
        assert error.fields["phase"] == "map_kernel_image" and error.fields["what"] == "text"
        assert int_field(error, "va") == int_field(error, "at") == int_field(text, "va") == symbols()["__text_start"]
        assert error.fields["rule"] == "must not remap a page that is already present"
        assert not [r for r in result.records if r.event in ("switched", "ready")]
