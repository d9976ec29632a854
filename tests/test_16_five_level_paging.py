"""Chapter 16: five-level paging — chapter 15's kernel at 57-bit addresses.

Two boots of the same image with ``paging=5`` on its command line, one CPU
each. The book's boot runs on ``-cpu max``, which has LA57 under TCG: the
loader enters five-level paging through its trampoline, the kernel builds a
PML5 and puts its phys-offset window above 2^56, and chapter 14's kind of
program (fork, copy-on-write) runs under a PML5 of its own. The other boot
runs on ``qemu64``, which has no LA57: the loader stays at four levels and
says why, and the kernel runs the 4-level layout. Each is read over the
monitor after ``ready``: ``info registers`` (CR4.LA57, CR3), ``info tlb`` and
a walk of the tables from CR3 by physical reads, at the depth CR4 says.

A third boot runs at five levels with two CPUs (``-smp 2``), its loader
playing a firmware that left five levels on: the AP comes up at five levels
through chapter 15's trampoline, now with a PML5 of its own, and chapter 15's
stale read, shootdown script and processes on every CPU run at five levels;
``info registers -a`` shows CR4.LA57 and the kernel's PML5 on every CPU. A
fourth, short one: chapter 14's kernel asking for five levels gets four.

What the tests hold the kernel to: the depth it says it runs at is the one
QEMU reports; at five levels QEMU maps addresses that are not 48-bit
canonical (the window, where the kernel said it put it, each page at its
frame) and nothing at the 4-level window; the kernel's own report of its
tables equals the walk; chapter 04's protections hold at both depths; the
program says the same at both, and each process has exactly one table more at
five levels (its PML5) while every frame comes back.
"""

from __future__ import annotations

import re

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot, page_table_leaves, parse_page_table_leaves
from harness.log import int_field
from harness.monitor import parse_info_registers, parse_info_tlb
from harness.paths import chapter_variables
from harness.protections import check_protections, lower_half_end
from test_15_tlb_shootdown import VALUES, expected_counts, online, registers_by_cpu, replay_turns

CHAPTER = "16-five-level-paging"
PROGRAMS = ["deep-fork", "read-above-47"]
CR4_LA57 = 1 << 12
ADDRESS_MASK = 0x000F_FFFF_FFFF_F000
WINDOW_5 = 0xFF00_0000_0000_0000  # mm/address_space_layout.h, five_level::kPhysWindowBase
WINDOW_4 = 0xFFFF_8000_0000_0000  # layout::kPhysWindowBase
WINDOW_4_SIZE = 64 << 40
PAGE = 4096


@pytest.fixture(scope="module")
def five(built):
    result = harness.boot(inspected_boot(CHAPTER, "paging=5"))
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def four(built):
    """The same image and command line on a CPU without LA57."""
    config = harness.BootConfig(CHAPTER, cpu="qemu64", cmdline="paging=5",
                                monitor_commands=("info registers", "info tlb", page_table_leaves))
    result = harness.boot(config)
    harness.assert_outcome(result, "success")
    return result


def canonical_48(va: int) -> bool:
    return va >> 47 in (0, (1 << 17) - 1)


def test_the_chapter_builds_the_programs_the_tests_know():
    assert chapter_variables(CHAPTER)["CHAPTER_USER_PROGRAMS"] == PROGRAMS


class TestFiveLevels:
    def test_the_loader_entered_five_levels_through_its_trampoline(self, five):
        choice = only(five, "loader", "paging")
        assert choice.fields == {"levels": "5", "asked": "5", "cpu-la57": "yes", "top": choice.fields["top"],
                                 "pml4": choice.fields["pml4"]}
        entering = only(five, "loader", "entering 5-level paging")
        assert entering.fields["pml5"] == choice.fields["top"]

    def test_cr4_la57_is_set_and_the_kernel_says_five(self, five):
        registers = parse_info_registers(five.monitor["info registers"])
        assert registers["CR4"] & CR4_LA57
        assert only(five, "paging", "depth").fields == {"levels": "5", "la57": "yes", "cpu-la57": "yes", "asked": "5"}
        switched = only(five, "paging", "switched")
        assert switched.fields["levels"] == "5"
        # The programs are done: CR3 names the kernel's own PML5 again.
        assert registers["CR3"] & ADDRESS_MASK == int_field(switched, "cr3") & ADDRESS_MASK

    def test_addresses_above_2_47_are_mapped_where_the_kernel_put_the_window(self, five):
        phase = only(five, "paging", "phase map_phys_offset_regions")
        assert int_field(phase, "base") == WINDOW_5
        tlb = parse_info_tlb(five.monitor["info tlb"])
        window = [e for e in tlb if WINDOW_5 <= e.va < WINDOW_5 + (1 << 52)]
        assert window, "info tlb shows nothing in the 57-bit window"
        assert all(not canonical_48(e.va) for e in window)
        assert all(e.va - WINDOW_5 == e.pa for e in window), "a window page off its frame"
        assert not [e for e in tlb if WINDOW_4 <= e.va < WINDOW_4 + WINDOW_4_SIZE], "the 4-level window is still mapped"
        check = only(five, "window", "check passed")
        assert int_field(check, "last-ram-page-va") == WINDOW_5 + int_field(check, "last-ram-page")

    def test_the_kernels_report_is_the_walk_of_its_pml5(self, five):
        assert_report_is_the_walk(five)

    def test_protections_seen_by_qemu(self, five):
        check_protections(five, CHAPTER)

    def test_nothing_in_the_57_bit_lower_half(self, five):
        registers = parse_info_registers(five.monitor["info registers"])
        assert lower_half_end(registers["CR4"]) == 1 << 56
        assert not [e for e in parse_info_tlb(five.monitor["info tlb"]) if e.va < 1 << 56]

    def test_the_identity_maps_removal_counts_pml5_entries(self, five):
        # RAM lies far below 2^48, so the identity map hung off one PML5 entry,
        # entry 0; the line names the root's entries for what they are.
        removed = only(five, "paging", "identity map removed")
        assert "pml4-entries" not in removed.fields
        assert int_field(removed, "pml5-entries") == 1


class TestFourLevels:
    def test_the_loader_stays_at_four_and_says_why(self, four):
        assert only(four, "loader", "paging").fields == {"levels": "4", "asked": "5", "why": "cpu-has-no-la57"}
        assert not [r for r in four.records_for("loader") if r.event == "entering 5-level paging"]
        assert only(four, "paging", "depth").fields == {"levels": "4", "la57": "no", "cpu-la57": "no", "asked": "5",
                                                        "why": "cpu-has-no-la57"}
        assert "levels" not in only(four, "paging", "switched").fields

    def test_cr4_la57_is_clear_and_every_address_is_48_bit(self, four):
        registers = parse_info_registers(four.monitor["info registers"])
        assert not registers["CR4"] & CR4_LA57
        assert lower_half_end(registers["CR4"]) == 1 << 47
        tlb = parse_info_tlb(four.monitor["info tlb"])
        assert all(canonical_48(e.va) for e in tlb)
        assert int_field(only(four, "paging", "phase map_phys_offset_regions"), "base") == WINDOW_4
        assert [e for e in tlb if WINDOW_4 <= e.va < WINDOW_4 + WINDOW_4_SIZE]

    def test_the_kernels_report_is_the_walk_of_its_pml4(self, four):
        assert_report_is_the_walk(four)

    def test_the_identity_maps_removal_counts_pml4_entries_as_in_chapter_08(self, four):
        removed = only(four, "paging", "identity map removed")
        assert "pml5-entries" not in removed.fields
        assert int_field(removed, "pml4-entries") == 1

    def test_protections_seen_by_qemu(self, four):
        check_protections(four, CHAPTER)


def test_an_earlier_chapter_asking_for_five_levels_gets_four_and_is_told_why(built):
    """Chapter 14's kernel builds 4-level tables and carries no KernelBook
    note (boot/kernel_note.h), so the loader hands it four levels even on a
    CPU with LA57 when its command line says paging=5, says why, and the
    kernel runs to ready at four levels."""
    result = harness.boot(harness.BootConfig("14-copy-on-write", cmdline="paging=5", timeout=60))
    harness.assert_outcome(result, "success")
    choice = only(result, "loader", "paging")
    assert (choice.fields["levels"], choice.fields["asked"], choice.fields["why"]) == ("4", "5", "kernel-is-4-level")
    assert not [r for r in result.records_for("loader") if r.event == "entering 5-level paging"]
    assert "levels" not in only(result, "paging", "switched").fields  # a 4-level switch says nothing of levels


@pytest.fixture(scope="module")
def five_two_cpus(built):
    """Five levels with an AP: the loader plays a firmware that left five
    levels on (loader.test-la57), so this boot also covers that handover;
    the AP's way to five levels is the kernel's own trampoline either way."""
    config = harness.BootConfig(CHAPTER, smp=2, cmdline="paging=5 loader.test-la57",
                                monitor_commands=("info registers -a",))
    result = harness.boot(config)
    harness.assert_outcome(result, "success")
    return result


def test_firmware_at_five_levels_keeps_them_for_a_kernel_that_follows_them(five_two_cpus):
    """The loader plays a firmware that left five levels on
    (loader.test-la57), and chapter 16 asks for five: the handover keeps the
    depth, with no trip through 32-bit code, only a CR3 load of the PML5,
    and the kernel runs at five levels to ready."""
    result = five_two_cpus
    assert only(result, "loader", "paging").fields["levels"] == "5"
    assert only(result, "loader", "imitating 5-level firmware").fields["cr4-la57"] == "yes"
    assert not [r for r in result.records_for("loader") if r.event in ("entering 5-level paging", "leaving 5-level paging")]
    assert only(result, "paging", "depth").fields["levels"] == "5"
    assert only(result, "user", "all programs done").fields["balanced"] == "yes"


class TestApsAtFiveLevels:
    def test_the_ap_trampoline_has_a_pml5_below_4gib_and_retires_at_five_levels(self, five_two_cpus):
        reserved = only(five_two_cpus, "smp", "trampoline reserved")
        installed = only(five_two_cpus, "smp", "trampoline installed")
        retired = only(five_two_cpus, "smp", "trampoline retired")
        assert reserved.fields["levels"] == installed.fields["levels"] == retired.fields["levels"] == "5"
        pml5 = int_field(reserved, "pml5")
        assert int_field(installed, "pml5") == pml5 and installed.fields["cr4-la57"] == "yes"
        assert pml5 % PAGE == 0 and pml5 + PAGE <= 1 << 32, "CR3 is loaded from 32-bit code"
        assert pml5 != int_field(reserved, "pml4")
        assert retired.fields["identity-before"] == "at-page", "the walk through the PML5 found the page before"
        assert retired.fields["identity"] == "absent", "the walk of the PML5 finds no identity page"

    def test_every_cpu_comes_online_on_the_kernels_pml5(self, five_two_cpus):
        up = online(five_two_cpus)
        assert sorted(up) == [0, 1] and up[1].fields["role"] == "ap"
        kernel_pml5 = int_field(only(five_two_cpus, "paging", "switched"), "cr3") & ADDRESS_MASK
        assert {int_field(r, "cr3") & ADDRESS_MASK for r in up.values()} == {kernel_pml5}
        summary = only(five_two_cpus, "smp", "cpus")
        assert (int_field(summary, "online"), int_field(summary, "expected")) == (2, 2)

    def test_qemu_sees_la57_and_the_kernels_pml5_on_every_cpu(self, five_two_cpus):
        blocks = registers_by_cpu(five_two_cpus.monitor["info registers -a"])
        assert sorted(blocks) == [0, 1]
        kernel_pml5 = int_field(only(five_two_cpus, "paging", "switched"), "cr3") & ADDRESS_MASK
        for index, block in blocks.items():
            registers = parse_info_registers(block)
            assert registers["CR4"] & CR4_LA57, f"CPU {index} translates with four levels"
            assert registers["CR3"] & ADDRESS_MASK == kernel_pml5, f"CPU {index} is not on the kernel's PML5"
        ring3 = only(five_two_cpus, "smp", "cpu ring3", index="1")
        assert int_field(ring3, "cr4") & CR4_LA57

    def test_the_stale_read_and_its_shootdown_at_five_levels(self, five_two_cpus):
        stale = only(five_two_cpus, "tlb", "stale read")
        assert (int_field(stale, "before"), int_field(stale, "expected"), int_field(stale, "got")) == \
            (VALUES[0], VALUES[1], VALUES[0])
        fresh = only(five_two_cpus, "tlb", "fresh read")
        assert (int_field(fresh, "before"), int_field(fresh, "got"), int_field(fresh, "ipis")) == (VALUES[1], VALUES[2], 1)

    def test_the_script_counts_what_the_protocol_predicts_and_frames_balance(self, five_two_cpus):
        scripts = [r for r in five_two_cpus.records_for("tlb") if r.event == "script"]
        results = {int_field(r, "step"): r for r in five_two_cpus.records_for("tlb") if r.event == "shootdown"}
        assert [int_field(s, "step") for s in scripts] == sorted(results) == [1, 2, 3, 4, 5]
        for script in scripts:
            got = results[int_field(script, "step")]
            assert {key: int_field(got, key) for key in expected_counts(script)} == expected_counts(script)
        back = {r.fields["after"]: r for r in five_two_cpus.records_for("tlb") if r.event == "frames back"}
        assert set(back) == {"stale-read", "script"}
        for r in back.values():  # the shared space's PML5 went back too
            assert int_field(r, "used-before") == int_field(r, "used-after") and r.fields["balanced"] == "yes"

    def test_processes_run_on_both_cpus_and_lazy_tables_replay(self, five_two_cpus):
        runs = [r for r in five_two_cpus.records_for("sched") if r.event == "run"]
        assert {int_field(r, "cpu") for r in runs} == {0, 1}, "the AP ran processes at five levels"
        _, seen = replay_turns(five_two_cpus)
        assert seen["kept"] > 0, seen  # the AP kept a process's PML5 loaded between its turns
        assert seen["left-invalidate"] > 0, seen  # and left it when the process changed a page on the BSP
        texts = [r.fields["text"].strip('"') for r in five_two_cpus.records_for("user") if r.event == "write"]
        assert "deep-fork top=0x7fffffffe000 above=-12 child=3 first=100" in texts
        assert "hop rounds=2 stale=0" in texts and "load-gs turns=8 good=8 gs-after=0x33" in texts
        killed = only(five_two_cpus, "user", "killed", name="read-above-47")
        assert (int_field(killed, "vector"), int_field(killed, "addr")) == (14, 1 << 47)


def test_one_cpu_reserves_the_trampoline_at_the_depth_it_runs(five, four):
    """The book's boots have one CPU: the trampoline is reserved (with a
    PML5 at five levels only) and never installed; the stale read says why
    it is skipped."""
    at_five = only(five, "smp", "trampoline reserved")
    assert at_five.fields["levels"] == "5" and int_field(at_five, "pml5") + PAGE <= 1 << 32
    at_four = only(four, "smp", "trampoline reserved")
    assert at_four.fields["levels"] == "4" and "pml5" not in at_four.fields
    for result in (five, four):
        assert not [r for r in result.records_for("smp") if r.event == "trampoline installed"]
        assert only(result, "tlb", "stale read skipped").fields["rule"] == "needs a second cpu online"


class TestProcessesAtBothDepths:
    def test_the_program_says_the_same_and_every_frame_comes_back(self, five, four):
        for result in (five, four):
            text = only(result, "user", "write", name="deep-fork").fields["text"]
            assert text.strip('"') == "deep-fork top=0x7fffffffe000 above=-12 child=3 first=100"
            done = only(result, "user", "all programs done")  # deep-fork, hop and load-gs exit; read-above-47 is killed
            assert done.fields["balanced"] == "yes" and (done.fields["exited"], done.fields["killed"]) == ("3", "1")
            refused = only(result, "vm", "refused")
            assert int_field(refused, "value") == 1 << 47  # user space stays below 2^47 at either depth

    def test_an_address_just_above_the_user_half_is_a_gp_at_four_levels_and_a_fault_at_five(self, five, four):
        """read-above-47 reads 2^47. At four levels it is not canonical: a #GP,
        which reports no address. At five it is canonical and unmapped: a page
        fault at exactly 2^47, named by the kernel's rule for the addresses
        above the user limit. The program ends killed either way."""
        at_five = only(five, "user", "killed", name="read-above-47")
        assert (at_five.fields["rule"], int_field(at_five, "vector"), int_field(at_five, "addr")) == \
            ("kernel-memory", 14, 1 << 47)
        assert at_five.fields["present"] == "no"
        at_four = only(four, "user", "killed", name="read-above-47")
        assert (at_four.fields["rule"], int_field(at_four, "vector")) == ("general-protection", 13)
        assert "addr" not in at_four.fields

    def test_each_process_has_one_table_more_at_five_levels(self, five, four):
        def tables(result):
            start = only(result, "user", "start", name="deep-fork")
            usage = {r.fields["pid"]: int_field(r, "tables") for r in result.records_for("cow") if r.event == "usage"}
            return int_field(start, "tables"), usage
        start5, usage5 = tables(five)
        start4, usage4 = tables(four)
        assert start5 == start4 + 1  # the PML5 above the program's PML4
        assert usage4.keys() == usage5.keys() >= {"1", "2", "3"}  # deep-fork, its child, read-above-47, then 15's
        assert all(usage5[pid] == usage4[pid] + 1 for pid in usage4)


def assert_report_is_the_walk(result) -> None:
    """Every ``[layout] range`` line the kernel printed from its own walk is
    covered by QEMU-visible leaves at the same frames, and the leaves add up
    to exactly the ranges' bytes (the walk is QEMU's: check_protections holds
    it against info tlb)."""
    ranges = [(int_field(r, "va"), int_field(r, "end"), int_field(r, "pa"))
              for r in result.records_for("layout") if r.event == "range"]
    assert ranges
    leaves = parse_page_table_leaves(result.monitor["page_table_leaves"])
    assert sum(end - va for va, end, _ in ranges) == sum(leaf.size for leaf in leaves)
    for leaf in leaves:
        holding = [(va, end, pa) for va, end, pa in ranges if va <= leaf.va and leaf.va + leaf.size <= end]
        assert len(holding) == 1, f"leaf {leaf.va:#x} in {len(holding)} reported ranges"
        va, _, pa = holding[0]
        assert leaf.pa == pa + (leaf.va - va), f"leaf {leaf.va:#x} maps {leaf.pa:#x}, the report says {pa + leaf.va - va:#x}"
