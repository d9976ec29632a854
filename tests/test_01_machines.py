"""Chapter 01 on other machine shapes: the loader's decisions follow the machine.

A fast subset of the boot matrix: another chipset, RAM above the 32-bit PCI
hole, and a CPU without NX (whose page-table bit 63 would be reserved)."""

from __future__ import annotations

import pytest

import harness
from harness.log import loader_memory_map, size_field

CHAPTER = "01-boot"
GiB = 1 << 30


def boot(**machine) -> harness.BootResult:
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="loader.dump-map", timeout=90, **machine))
    harness.assert_outcome(result, "success")
    assert not [r for r in result.records if r.level in ("WARN", "ERROR", "PANIC")]
    return result


def top_of_memory_map(result) -> int:
    return max(end for _type, _start, end in loader_memory_map(result.records))


def identity_bytes(result) -> int:
    return size_field(result.record("loader", "bootstrap tables"), "identity")


class TestPcChipset:
    def test_boots_on_i440fx(self, built):
        result = boot(machine="pc")
        assert identity_bytes(result) == 4 * GiB  # all of it below 4 GiB


class TestLargeMemory:
    def test_identity_map_reaches_ram_above_the_pci_hole(self, built):
        result = boot(memory="8G")
        top = top_of_memory_map(result)
        assert top > 8 * GiB  # q35 puts 6 GiB of the 8 above 4 GiB
        assert identity_bytes(result) == (top + GiB - 1) // GiB * GiB


class TestCpuWithoutNx:
    @pytest.mark.parametrize("cpu", ["qemu64,-nx"])
    def test_no_nx_bits_without_nx(self, built, cpu):
        result = boot(cpu=cpu)
        assert result.record("loader", "bootstrap tables").fields["nx"] == "no"
        assert result.record("cpu", "state").fields["nxe"] == "no"
