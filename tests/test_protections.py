"""Protections of every chapter, verified from outside the guest.

Each chapter is booted once, held after ``ready``, and QEMU itself is asked
for the CPU's control registers (``info registers``) and the live page tables
(``info tlb``). Nothing here trusts what the kernel says about itself:

* CR0.WP and EFER.NXE set; CR4.SMEP and CR4.SMAP set on a CPU that has them
  (``-cpu max``), and clear on one that does not (``-cpu qemu64``);
* no user-accessible page;
* no page both writable and executable, and nothing executable outside the
  kernel's text — except, in chapters 01-03, the loader's bootstrap identity
  map, which is RW and executable on purpose (the instruction after the CR3
  load runs from it; common/boot/bootstrap_paging.h) and is gone from 04 on;
* page 0 never mapped, from chapter 04 on;
* the kernel image's guard pages absent, from chapter 04 on.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache

import pytest

import harness
from harness.monitor import parse_info_registers, parse_info_tlb

CR0_WP = 1 << 16
CR4_SMEP, CR4_SMAP = 1 << 20, 1 << 21
EFER_NXE = 1 << 11
PAGE = 4096
LOWER_HALF_END = 1 << 47
OWN_TABLES_FROM = "04"  # the first chapter that replaces the loader's tables


@lru_cache(maxsize=None)
def symbols(chapter: str) -> dict[str, int]:
    out = subprocess.run(["nm", str(harness.chapter_kernel(chapter))], capture_output=True, text=True, check=True)
    return {p[2]: int(p[0], 16) for p in (line.split() for line in out.stdout.splitlines()) if len(p) == 3}


def held_boot(chapter: str, cpu: str = "max") -> harness.BootResult:
    result = harness.boot(harness.BootConfig(chapter, cpu=cpu, cmdline="", hold=True,
                                             monitor_commands=["info registers", "info tlb"]))
    harness.assert_outcome(result, "held")
    return result


@pytest.mark.parametrize("chapter", harness.chapters())
def test_protections_seen_by_qemu(built, chapter):
    result = held_boot(chapter)
    registers = parse_info_registers(result.monitor["info registers"])
    assert registers["CR0"] & CR0_WP, "CR0.WP clear"
    assert registers["EFER"] & EFER_NXE, "EFER.NXE clear"
    assert registers["CR4"] & CR4_SMEP and registers["CR4"] & CR4_SMAP, "SMEP/SMAP off on a CPU that has them"
    logged = result.record("cpu", "protections")
    assert logged.fields == {"wp": "yes", "nxe": "yes", "smep": "yes", "smap": "yes"}

    tlb = parse_info_tlb(result.monitor["info tlb"])
    assert tlb
    assert not [e for e in tlb if e.user], "a user-accessible page"
    own_tables = chapter[:2] >= OWN_TABLES_FROM
    sym = symbols(chapter)
    text = (sym["__text_start"], sym["__text_end"])
    for e in tlb:
        executable = not e.no_execute
        va = e.va & (1 << 64) - 1
        if not own_tables and va < LOWER_HALF_END and va == e.pa:
            continue  # the loader's bootstrap identity map: RWX by design, replaced in chapter 04
        assert not (e.writable and executable), f"W+X page at {va:#x} ({e.flags})"
        if executable:
            assert text[0] <= va < text[1], f"executable page outside the kernel's text at {va:#x}"
    if own_tables:
        mapped = {e.va & (1 << 64) - 1 for e in tlb if not e.huge}
        assert not [e for e in tlb if e.va == 0], "page 0 mapped"
        for guard in (sym["__text_start"] - PAGE, sym["__boot_stack_guard"], sym["__kernel_end"]):
            assert guard not in mapped, f"guard page {guard:#x} mapped"


def test_smep_and_smap_stay_off_where_the_cpu_lacks_them(built):
    chapter = harness.chapters()[-1]
    result = held_boot(chapter, cpu="qemu64")
    registers = parse_info_registers(result.monitor["info registers"])
    assert not registers["CR4"] & (CR4_SMEP | CR4_SMAP)
    assert registers["CR0"] & CR0_WP and registers["EFER"] & EFER_NXE
    assert result.record("cpu", "protections").fields == {"wp": "yes", "nxe": "yes", "smep": "no", "smap": "no"}
