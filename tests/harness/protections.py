"""The protections every chapter must show, checked from outside the guest.

Each chapter's test module calls :func:`check_protections` on a boot it
already holds after ``ready`` (with ``info registers`` and ``info tlb`` among
its monitor commands), so the check costs no boot of its own. Nothing here
trusts what the kernel says about itself, except that its ``[cpu] protections``
line must agree with what QEMU reports:

* CR0.WP and EFER.NXE set; CR4.SMEP and CR4.SMAP set on a CPU that has them
  (``-cpu max``), and clear on one that does not (``qemu64``, ``Westmere``);
* no user-accessible page;
* no page both writable and executable, and nothing executable outside the
  kernel's text — except, in chapters 01-03, the loader's own text in its
  bootstrap identity map, read-only and executable on purpose (the
  instruction after the CR3 load runs from it; common/boot/bootstrap_mappings.h),
  at the pages its ``bootstrap tables`` line names;
* page 0 never mapped;
* the kernel image's guard pages absent, from chapter 04 on.

``tests/test_protections.py`` checks that every chapter's module calls this.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache

from .monitor import parse_info_registers, parse_info_tlb
from .paths import chapter_kernel
from .qemu import BootResult

CR0_WP = 1 << 16
CR4_SMEP, CR4_SMAP = 1 << 20, 1 << 21
EFER_NXE = 1 << 11
PAGE = 4096
LOWER_HALF_END = 1 << 47
OWN_TABLES_FROM = "04"  # the first chapter that replaces the loader's tables

#: CPU models (QEMU ``-cpu`` names) that have SMEP and SMAP under TCG.
CPUS_WITH_SMEP_SMAP = {"max"}

#: The monitor commands a boot needs for :func:`check_protections`.
MONITOR_COMMANDS = ("info registers", "info tlb")


@lru_cache(maxsize=None)
def kernel_symbols(chapter: str) -> dict[str, int]:
    """``nm`` of the chapter's kernel.elf: symbol name -> address."""
    out = subprocess.run(["nm", str(chapter_kernel(chapter))], capture_output=True, text=True, check=True)
    return {p[2]: int(p[0], 16) for p in (line.split() for line in out.stdout.splitlines()) if len(p) == 3}


def check_protections(result: BootResult, chapter: str) -> None:
    """Assert every protection above on a boot of ``chapter`` read over the monitor.

    The CPU model comes from the boot's own config; a model without NX
    (``qemu64,-nx``) cannot keep W^X and is refused here.
    """
    cpu = result.config.cpu
    if "-nx" in cpu.split(","):
        raise ValueError(f"cpu {cpu!r} has no NX: W^X cannot hold there, so there is nothing to check")
    missing = [command for command in MONITOR_COMMANDS if command not in result.monitor]
    if missing:
        raise ValueError(f"the boot did not read {missing}; add them to its monitor_commands")

    registers = parse_info_registers(result.monitor["info registers"])
    assert registers["CR0"] & CR0_WP, "CR0.WP clear"
    assert registers["EFER"] & EFER_NXE, "EFER.NXE clear"
    has_smep_smap = cpu.split(",")[0] in CPUS_WITH_SMEP_SMAP
    smep_smap = registers["CR4"] & (CR4_SMEP | CR4_SMAP)
    if has_smep_smap:
        assert smep_smap == CR4_SMEP | CR4_SMAP, f"SMEP/SMAP off on -cpu {cpu}, which has them"
    else:
        assert not smep_smap, f"SMEP/SMAP on with -cpu {cpu}, which lacks them"
    yes_no = "yes" if has_smep_smap else "no"
    logged = [r for r in result.records_for("cpu") if r.event == "protections"]
    assert len(logged) == 1, "one [cpu] protections line"
    assert logged[0].fields == {"wp": "yes", "nxe": "yes", "smep": yes_no, "smap": yes_no}

    tlb = parse_info_tlb(result.monitor["info tlb"])
    assert tlb, "info tlb shows no mapping at all"
    assert not [e for e in tlb if e.user], "a user-accessible page"
    own_tables = chapter[:2] >= OWN_TABLES_FROM
    sym = kernel_symbols(chapter)
    text = (sym["__text_start"], sym["__text_end"])
    loader_text = (0, 0)
    if not own_tables:  # wt-loader: the loader's text, the one executable part of its identity map
        tables = [r for r in result.records_for("loader") if r.event == "bootstrap tables"]
        assert len(tables) == 1, "one [loader] bootstrap tables line"
        start = int(tables[0].fields["loader-text"], 16)
        loader_text = (start, start + int(tables[0].fields["loader-text-pages"]) * PAGE)
    for e in tlb:
        executable = not e.no_execute
        va = e.va & (1 << 64) - 1
        assert not (e.writable and executable), f"W+X page at {va:#x} ({e.flags})"
        if executable and loader_text[0] <= va < loader_text[1] and va == e.pa:
            continue  # wt-loader: the instruction after the CR3 load runs here
        if executable:
            assert text[0] <= va < text[1], f"executable page outside the kernel's text at {va:#x}"
    assert not [e for e in tlb if e.va == 0], "page 0 mapped"
    if own_tables:
        mapped = {e.va & (1 << 64) - 1 for e in tlb if not e.huge}
        for guard in (sym["__text_start"] - PAGE, sym["__boot_stack_guard"], sym["__kernel_end"]):
            assert guard not in mapped, f"guard page {guard:#x} mapped"
