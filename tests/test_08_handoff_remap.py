"""Chapter 08: the handoff and the memory map move to the phys-offset window,
then the identity map goes: QEMU must see no lower-half mapping at all.

One boot read over the monitor once the kernel has written its exit code,
checked against QEMU's ``info mem`` / ``info tlb`` and the loader's log; one
boot that damages the memory map's remap in every way in turn
(``test.corrupt-remap=all``), each damage rejected by name; and one with a
single damage, whose rejection ends the boot.
"""

from __future__ import annotations

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot
from harness.log import int_field, size_field
from harness.monitor import parse_info_mem, parse_info_tlb
from harness.protections import check_protections

CHAPTER = "08-handoff-remap"
WINDOW_BASE = 0xFFFF_8000_0000_0000
LOWER_HALF_END = 1 << 47


@pytest.fixture(scope="module")
def finished(built):
    # The boot the chapter's page quotes; the probe word is read back through the window.
    result = harness.boot(inspected_boot(CHAPTER, "probe=upper-half"))
    harness.assert_outcome(result, "success")
    return result


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_ready_without_warnings(finished):
    harness.assert_ready_without_warnings(finished)


def test_qemu_sees_nothing_in_the_lower_half(finished):
    mem = parse_info_mem(finished.monitor["info mem"])
    tlb = parse_info_tlb(finished.monitor["info tlb"])
    assert mem and tlb, "the upper half is still mapped"
    assert not [r for r in mem if r.start < LOWER_HALF_END], "info mem shows a lower-half mapping"
    assert not [e for e in tlb if e.va < LOWER_HALF_END], "info tlb shows a lower-half mapping"


def test_the_handoff_moved_to_its_window_address(finished):
    handoff = only(finished, "remap", "handoff")
    loader_address = int_field(finished.record("loader", "jump to kernel"), "handoff")
    assert int_field(handoff, "pa") == int_field(handoff, "old-va") == loader_address
    assert int_field(handoff, "new-va") == WINDOW_BASE + loader_address
    assert size_field(handoff, "size") == 1200 and handoff.fields["kind"] == "boot-handoff"
    assert handoff.fields["identical"] == "yes"


def test_the_memory_map_moved_to_its_window_address(finished):
    remap = only(finished, "remap", "memory-map")
    exited = finished.record("loader", "boot services exited")
    assert size_field(remap, "size") == int_field(exited, "map-entries") * int_field(exited, "descriptor-size")
    assert int_field(remap, "new-va") == WINDOW_BASE + int_field(remap, "pa")
    assert remap.fields["kind"] == "boot-handoff" and remap.fields["identical"] == "yes"


def test_the_identity_maps_tables_were_released(finished):
    removed = only(finished, "paging", "identity map removed")
    identity = only(finished, "paging", "phase identity_map_low_memory")
    assert int_field(removed, "pml4-entries") == 1
    assert int_field(removed, "tables-released") == int_field(identity, "tables")
    assert int_field(removed, "returned-to-reserve") == int_field(removed, "tables-released")
    # OVMF leaves CR4.PGE off, so nothing is global and a CR3 reload drops all
    # (tests/test_debug.py turns PGE on and sees the toggle).
    assert removed.fields["flush"] == "cr3-reload"
    assert only(finished, "paging", "switched").fields["global-pages"] == "off"


def test_the_kernel_runs_on_upper_half_addresses_only(finished):
    proof = only(finished, "remap", "upper half only")
    assert int_field(proof, "handoff-va") == int_field(only(finished, "remap", "handoff"), "new-va")
    assert int_field(proof, "map-va") == int_field(only(finished, "remap", "memory-map"), "new-va")
    assert proof.fields["ranges-equal"] == "yes"
    assert int_field(proof, "ranges") == len([r for r in finished.records_for("memmap") if r.event == "range"])
    assert proof.fields["cmdline"] == "upper-half", "the command line is read through the relocated handoff"


# (test.corrupt-remap value, field, rule)
CORRUPTIONS = [
    ("offset", "contents", "must equal the validated bytes at every offset (value is the first that differs)"),
    ("size", "size", "must be between 1 byte and 1 MiB"),
    ("region", "pa", "must lie wholly in memory of its loader-owned kind"),
]


@pytest.fixture(scope="module")
def every_damage(built):
    """One boot with test.corrupt-remap=all: each damage to a fresh request, each through the real checks."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.corrupt-remap=all", timeout=60))
    harness.assert_outcome(result, "failure")
    return result


def rejections(result) -> dict[str, list]:
    """corruption -> its WARN line and the records after it, up to the next one."""
    return harness.sweep_segments(result.records, "damaging the memory-map remap on request", "corruption", "remap")


def test_every_damage_is_tried_then_the_boot_fails(every_damage):
    assert list(rejections(every_damage)) == [c[0] for c in CORRUPTIONS]
    summary = only(every_damage, "remap", "every damage tried")
    assert summary is every_damage.records[-1]
    assert int_field(summary, "kinds") == len(CORRUPTIONS) and int_field(summary, "accepted") == 0
    assert not [r for r in every_damage.records_for("paging") if r.event == "identity map removed"]
    assert not [r for r in every_damage.records_for("kernel") if r.event == "ready"]


@pytest.mark.parametrize("corruption,field,rule", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_a_damaged_remap_is_rejected_by_name(every_damage, corruption, field, rule):
    records = rejections(every_damage)[corruption]
    errors = [r for r in records if r.level == "ERROR"]
    assert len(errors) == 1, [str(e) for e in errors]
    assert (errors[0].subsystem, errors[0].event) == ("remap", "memory-map rejected")
    assert (errors[0].fields["field"], errors[0].fields["rule"]) == (field, rule)
    handoff = [r for r in records if r.subsystem == "remap" and r.event == "handoff"]
    assert len(handoff) == 1 and handoff[0].fields["identical"] == "yes", "the handoff itself was fine"


def test_one_damaged_remap_ends_the_boot_with_its_rejection(built):
    """A single damage, as a reader tries it: the rejection is the last word, then the failure code."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.corrupt-remap=offset", timeout=60))
    error = harness.the_rejection(result)
    assert (error.event, error.fields["field"]) == ("memory-map rejected", "contents")
    assert only(result, "remap", "handoff").fields["identical"] == "yes", "the handoff itself was fine"
    assert not [r for r in result.records_for("paging") if r.event == "identity map removed"]
