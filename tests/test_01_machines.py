"""Chapter 01 on other CPUs: the loader's decisions follow the machine.

Without NX, bit 63 of a page-table entry is reserved, so the loader's bootstrap
tables must not use it and the kernel must not turn on EFER.NXE. With LA57
left on by the firmware, the loader must leave 5-level paging through its
handover trampoline (common/boot/handover_trampoline.h). (The other
machine shapes, the pc chipset and RAM far above the 32-bit PCI hole, are the
boot matrix's cells: tests/test_matrix.py checks the loader's identity map on
each.)"""

from __future__ import annotations

import dataclasses

import pytest

import harness
from harness.inspections import inspected_boot
from harness.monitor import parse_info_registers, parse_info_tlb
from harness.protections import check_protections

CHAPTER = "01-boot"


def boot(**machine) -> harness.BootResult:
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="loader.dump-map", timeout=90, **machine))
    harness.assert_outcome(result, "success")
    assert not [r for r in result.records if r.level in ("WARN", "ERROR", "PANIC")]
    return result


class TestCpuWithoutNx:
    @pytest.mark.parametrize("cpu", ["qemu64,-nx"])
    def test_no_nx_bits_without_nx(self, built, cpu):
        result = boot(cpu=cpu)
        assert result.record("loader", "bootstrap tables").fields["nx"] == "no"
        assert result.record("cpu", "state").fields["nxe"] == "no"


CR4_LA57 = 1 << 12


class TestFirmwareThatLeftFiveLevelPagingOn:
    """Debian's OVMF never hands over with CR4.LA57 set, so the loader plays
    such a firmware (``loader.test-la57``, common/boot/la57_imitation.h): after
    ExitBootServices it turns LA57 on over the firmware's own mappings, and
    the handover from there is the one a 5-level firmware would see."""

    @pytest.fixture(scope="class")
    def la57(self, built):
        config = inspected_boot(CHAPTER, "loader.dump-map")
        result = harness.boot(dataclasses.replace(config, cpu="max,+la57", cmdline="loader.dump-map loader.test-la57"))
        harness.assert_outcome(result, "success")
        return result

    def test_the_loader_was_in_five_level_paging_before_the_jump(self, la57):
        imitation = la57.record("loader", "imitating 5-level firmware")
        assert imitation.fields["cr4-la57"] == "yes"
        assert harness.int_field(imitation, "pml5") < 1 << 32  # CR3 is loaded from 32-bit code

    def test_the_loader_announced_the_trampoline_way_out(self, la57):
        tables = la57.record("loader", "bootstrap tables")
        leaving = la57.record("loader", "leaving 5-level paging")
        assert leaving.fields["via"] == "trampoline"
        assert leaving.fields["trampoline"] == tables.fields["trampoline"]
        assert leaving.fields["pml4"] == tables.fields["pml4"]
        events = [(r.subsystem, r.event) for r in la57.records]
        assert events.index(("loader", "imitating 5-level firmware")) < events.index(("loader", "leaving 5-level paging"))

    def test_the_kernel_runs_at_four_levels_on_the_loaders_tables(self, la57):
        state = la57.record("cpu", "state")
        assert state.fields["la57"] == "no"
        registers = parse_info_registers(la57.monitor["info registers"])
        assert not registers["CR4"] & CR4_LA57, "QEMU sees CR4.LA57 still set"
        assert registers["CR3"] & ~0xFFF == harness.int_field(la57.record("loader", "bootstrap tables"), "pml4")
        assert la57.records[-1].event == "ready"

    def test_qemus_walk_finds_the_whole_identity_map_and_every_protection(self, la57):
        # QEMU walks CR3 at the depth CR4 says: had LA57 stayed on, the PML4
        # would be read as a PML5 and the identity map would not be there.
        tables = la57.record("loader", "bootstrap tables")
        identity = [e for e in parse_info_tlb(la57.monitor["info tlb"]) if e.va < 1 << 47]
        assert all(e.va == e.pa for e in identity)
        assert sum((2 << 20) if e.huge else 4096 for e in identity) == harness.size_field(tables, "identity") - 4096
        executable = [e.va for e in identity if not e.no_execute]
        assert executable == [harness.int_field(tables, "trampoline")]
        check_protections(la57, CHAPTER)
