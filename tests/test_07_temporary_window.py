"""Chapter 07: the temporary window, and what the emulated CPU does without INVLPG.

Two boots of the default machine (``-cpu max``, 256 MiB, TCG):

* ``test.stale-tlb``: the demonstration. The window maps frame A and reads it
  (the CPU caches the translation), then its PTE is pointed at frame B in
  place and the slot is read again: once with the flush token ignored, once
  flushed. QEMU's TCG keeps a software TLB per CPU that is filled by a page
  walk on a miss and emptied by INVLPG and CR0/CR3/CR4 writes, never by
  stores to page tables, so without INVLPG the read returns A's value; with
  it, B's.
* the plain boot, the one the chapter's page quotes, read over the monitor
  once the kernel has written its exit code: ``info tlb`` must show nothing in
  the slot's 1 GiB (the window is idle), and a page walk read with ``xp`` from
  CR3 must reach the page table the phase logged, present and writable, with
  all 512 entries zero.

The self-test counts are checked against an independent count of the RAM
pages the kernel printed.
"""

from __future__ import annotations

import pytest

import harness
from harness import only
from harness.inspections import TEMPORARY_WINDOW_SLOT, inspected_boot
from harness.log import int_field
from harness.monitor import parse_info_tlb
from harness.paging_model import GiB, PAGE, ram_runs
from harness.protections import check_protections

CHAPTER = "07-temporary-window"
SLOT = TEMPORARY_WINDOW_SLOT
PHASES = ["phase identity_map_low_memory", "phase map_kernel_image", "phase map_phys_offset_regions",
          "phase map_mmio_devices", "phase map_framebuffer", "phase create_temporary_window"]
SELF_TEST_ROUNDS, SELF_TEST_FRAMES, SWEEP_LIMIT = 4096, 16, 8192  # kernel_main.cpp's constants


ADDRESS = 0x000F_FFFF_FFFF_F000
P, RW, PS, NX = 1 << 0, 1 << 1, 1 << 7, 1 << 63


def no_errors(result):
    assert not [r for r in result.records if r.level in ("WARN", "ERROR", "PANIC")]


@pytest.fixture(scope="module")
def stale(built):
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.stale-tlb"))
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def finished(built):
    # The plain boot, which the chapter's page quotes; the readings include
    # the slot's walk from CR3 (harness.inspections.slot_walk).
    result = harness.boot(inspected_boot(CHAPTER))
    harness.assert_outcome(result, "success")
    return result


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


@pytest.fixture(scope="module")
def walk(finished) -> dict[str, list[int]]:
    return {name: [int(w, 16) for w in rest.split()]
            for name, rest in (line.split(" ", 1) for line in finished.monitor["slot_walk"].splitlines())}


def stale_read(result, flushed: str):
    return [r for r in result.records_for("tlb") if r.event == "stale read" and r.fields["flushed"] == flushed]


# ---- the demonstration ------------------------------------------------------------


def test_without_invlpg_the_cpu_still_reads_the_old_frame(stale):
    frames = only(stale, "tlb", "frames")
    [read] = stale_read(stale, "no")
    assert int_field(read, "pte-frame") == int_field(frames, "b"), "the PTE was pointed at B"
    assert int_field(read, "before") == int_field(frames, "value-a")
    assert int_field(read, "expected") == int_field(frames, "value-b")
    # TCG: the translation slot -> A filled by the first read is still in its
    # software TLB; nothing but INVLPG or a CR3/CR0/CR4 write would drop it.
    assert int_field(read, "got") == int_field(frames, "value-a")
    assert read.fields["stale"] == "yes"


def test_with_invlpg_it_reads_the_new_frame(stale):
    frames = only(stale, "tlb", "frames")
    [read] = stale_read(stale, "yes")
    assert int_field(read, "pte-frame") == int_field(frames, "b")
    assert int_field(read, "before") == int_field(frames, "value-a")
    assert int_field(read, "got") == int_field(frames, "value-b")
    assert read.fields["stale"] == "no"


def test_demonstration_runs_without_flush_first_then_with_it(stale):
    events = [(r.event, r.fields.get("flushed")) for r in stale.records_for("tlb") if r.event == "stale read"]
    assert events == [("stale read", "no"), ("stale read", "yes")]
    a, b = int_field(only(stale, "tlb", "frames"), "a"), int_field(only(stale, "tlb", "frames"), "b")
    assert a != b and a % PAGE == 0 and b % PAGE == 0
    no_errors(stale)


def test_demonstration_only_on_request(finished):
    assert not [r for r in finished.records_for("tlb") if r.event in ("frames", "stale read")]


# ---- the phase ------------------------------------------------------------------------


def test_create_temporary_window_is_the_last_phase_before_the_switch(finished):
    events = [r.event for r in finished.records_for("paging") if r.event.startswith("phase") or r.event == "switched"]
    assert events == PHASES + ["switched"]
    no_errors(finished)


def test_phase_made_the_slots_pd_and_pt_rw_nx(finished):
    phase = only(finished, "paging", "phase create_temporary_window")
    assert int_field(phase, "va") == SLOT
    # PML4 slot 511 already has its PDPT (the kernel image's); the slot's PD
    # and PT are new.
    assert int_field(phase, "tables") == 2
    assert phase.fields["flags"] == "P|RW|NX"
    assert int_field(phase, "pt") % PAGE == 0


# ---- the self-test ---------------------------------------------------------------------


def test_self_test_maps_thousands_of_frames_each_with_two_invlpg(finished):
    ram_pages = sum(end - start for start, end in ram_runs(finished)) // PAGE
    stride = -(-ram_pages // SWEEP_LIMIT) if ram_pages > SWEEP_LIMIT else 1
    swept = -(-ram_pages // stride)
    line = only(finished, "tlb", "self-test passed")
    assert int_field(line, "rounds") == SELF_TEST_ROUNDS
    assert int_field(line, "frames") == SELF_TEST_FRAMES
    assert (int_field(line, "stride"), int_field(line, "swept")) == (stride, swept)
    assert int_field(line, "maps") == SELF_TEST_ROUNDS + swept
    assert int_field(line, "invlpg") == 2 * int_field(line, "maps")


def test_every_map_was_invalidated_twice_and_the_window_is_idle(finished):
    idle = only(finished, "tlb", "window idle")
    assert int_field(idle, "va") == SLOT
    assert idle.fields["mapped"] == "no"
    assert int_field(idle, "invlpg") == 2 * int_field(idle, "maps")


# ---- QEMU's view at hold time -----------------------------------------------------------


def test_qemu_sees_nothing_mapped_in_the_slots_gib(finished):
    tlb = parse_info_tlb(finished.monitor["info tlb"])
    assert not [e for e in tlb if SLOT <= e.va < SLOT + GiB]


def test_the_cpus_walk_reaches_the_logged_page_table_and_it_is_empty(finished, walk):
    # Every level above the PT is a present, writable table entry (no PS: not a large page).
    for name in ("pml4e", "pdpte", "pde"):
        [entry] = walk[name]
        assert entry & (P | RW) == P | RW and not entry & PS, f"{name}={entry:#x}"
    [pde] = walk["pde"]
    assert pde & ADDRESS == int_field(only(finished, "paging", "phase create_temporary_window"), "pt")
    # The whole PT is the window's, and the window is idle: 512 zero entries.
    assert walk["pt"] == [0] * 512


def test_nothing_is_writable_and_executable(finished):
    tlb = parse_info_tlb(finished.monitor["info tlb"])
    assert not [e for e in tlb if e.writable and not e.no_execute]
