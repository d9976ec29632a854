"""Chapter 01 on a CPU without NX: the loader's decisions follow the machine.

Without NX, bit 63 of a page-table entry is reserved, so the loader's bootstrap
tables must not use it and the kernel must not turn on EFER.NXE. (The other
machine shapes, the pc chipset and RAM far above the 32-bit PCI hole, are the
boot matrix's cells: tests/test_matrix.py checks the loader's identity map on
each.)"""

from __future__ import annotations

import pytest

import harness

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
