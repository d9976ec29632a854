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
* the kernel image's guard pages absent, from chapter 04 on;
* from chapter 04 on, per *physical frame* (:func:`check_frames`), since a
  frame may have several addresses and the CPU judges each alone: no frame
  writable through one address and executable through another, and no frame
  with two memory types. This needs each leaf's size and PAT bit, which
  ``info tlb`` does not print (its ``P`` column is PS, cleared for 4 KiB
  PTEs, whose bit 7 is PAT; a large leaf's PAT bit 12 is masked out of its
  address), so the tables are walked from CR3 with physical reads
  (:func:`harness.inspections.page_table_leaves`) and the walk is first held
  against ``info tlb``: the same leaves, addresses and bits.

``tests/test_protections.py`` checks that every chapter's module calls this.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache

from .inspections import WalkedLeaf, page_table_leaves, parse_page_table_leaves
from .log import int_field
from .monitor import TlbEntry, parse_info_registers, parse_info_tlb
from .paths import chapter_kernel
from .qemu import BootResult

CR0_WP = 1 << 16
CR4_SMEP, CR4_SMAP = 1 << 20, 1 << 21
EFER_NXE = 1 << 11
PAGE = 4096
CR4_LA57 = 1 << 12


def lower_half_end(cr4: int) -> int:
    """One past the lower half: 2^47 at four levels, 2^56 with CR4.LA57 (chapter 16)."""
    return 1 << 56 if cr4 & CR4_LA57 else 1 << 47


OWN_TABLES_FROM = "04"  # the first chapter that replaces the loader's tables

#: CPU models (QEMU ``-cpu`` names) that have SMEP and SMAP under TCG.
CPUS_WITH_SMEP_SMAP = {"max"}

#: The monitor commands a boot needs for :func:`check_protections`; from
#: chapter 04 on also :data:`FRAME_READINGS`.
MONITOR_COMMANDS = ("info registers", "info tlb")
FRAME_READINGS = (page_table_leaves,)

#: IA32_PAT at power-on (SDM Vol. 3A, 11.12.4): what a kernel before chapter 06,
#: which programs its own and logs it (``[mmio] pat now=``), runs with.
PAT_POWER_ON = 0x0007_0406_0007_0406
PAT_TYPES = {0: "UC", 1: "WC", 4: "WT", 5: "WP", 6: "WB", 7: "UC-"}


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
    own_tables = chapter[:2] >= OWN_TABLES_FROM
    readings = MONITOR_COMMANDS + (tuple(r.__name__ for r in FRAME_READINGS) if own_tables else ())
    missing = [command for command in readings if command not in result.monitor]
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
    sym = kernel_symbols(chapter)
    text = (sym["__text_start"], sym["__text_end"])
    trampoline = None
    if not own_tables:  # the handover trampoline's page, the one executable page of the loader's identity map
        tables = [r for r in result.records_for("loader") if r.event == "bootstrap tables"]
        assert len(tables) == 1, "one [loader] bootstrap tables line"
        trampoline = int(tables[0].fields["trampoline"], 16)
    for e in tlb:
        executable = not e.no_execute
        va = e.va & (1 << 64) - 1
        assert not (e.writable and executable), f"W+X page at {va:#x} ({e.flags})"
        if executable and va == trampoline == e.pa and not e.huge:
            continue  # the instruction after the CR3 load runs here
        if executable:
            assert text[0] <= va < text[1], f"executable page outside the kernel's text at {va:#x}"
    assert not [e for e in tlb if e.va == 0], "page 0 mapped"
    top = lower_half_end(registers["CR4"])  # every address QEMU shows is canonical at the depth CR4 says
    assert not [e for e in tlb if top <= e.va & (1 << 64) - 1 < (1 << 64) - top], "a non-canonical address mapped"
    if own_tables:
        leaves = parse_page_table_leaves(result.monitor["page_table_leaves"])
        for guard in (sym["__text_start"] - PAGE, sym["__boot_stack_guard"], sym["__kernel_end"]):
            # By a leaf of any size: a 2 MiB page over a guard would map it as surely as a 4 KiB one.
            covering = [leaf for leaf in leaves if leaf.va <= guard < leaf.va + leaf.size]
            assert not covering, f"guard page {guard:#x} mapped by the {covering[0].size:#x}-byte leaf at {covering[0].va:#x}"
        check_frames(leaves, tlb, pat_in_force(result))


def pat_in_force(result) -> int:
    """The PAT the kernel programmed, as it logged it (chapter 06 on), else the power-on value."""
    programmed = [r for r in result.records_for("mmio") if r.event == "pat"]
    return int_field(programmed[-1], "now") if programmed else PAT_POWER_ON


def memory_type(leaf: WalkedLeaf, pat: int) -> str:
    """The PAT's type for the leaf's PAT index."""
    encoding = (pat >> 8 * leaf.pat_index) & 0x7
    return PAT_TYPES.get(encoding, f"reserved({encoding})")


def tlb_flags(entry: int, size: int) -> str:
    """The nine ``XGPDACTUW`` columns ``info tlb`` prints for a leaf entry: the
    entry's own bits, 'P' being bit 7, which QEMU 7.2 clears before printing a
    4 KiB PTE (where bit 7 is PAT, not PS), as a WC framebuffer page shows."""
    if size == PAGE:
        entry &= ~(1 << 7)
    bits = ((63, "X"), (8, "G"), (7, "P"), (6, "D"), (5, "A"), (4, "C"), (3, "T"), (2, "U"), (1, "W"))
    return "".join(c if entry >> bit & 1 else "-" for bit, c in bits)


def check_walk_matches_info_tlb(leaves: list[WalkedLeaf], tlb: list[TlbEntry]) -> None:
    """The walk and ``info tlb`` must be one view: the same leaves, each at the
    same frame with the same bits."""
    by_va = {e.va & (1 << 64) - 1: e for e in tlb}
    walked = {leaf.va: leaf for leaf in leaves}
    assert len(walked) == len(leaves), "the walk found one address twice"
    only_tlb, only_walk = sorted(set(by_va) - set(walked)), sorted(set(walked) - set(by_va))
    assert not only_tlb and not only_walk, (
        f"walk and info tlb disagree: only in info tlb {[hex(v) for v in only_tlb[:4]]}, "
        f"only in the walk {[hex(v) for v in only_walk[:4]]}")
    for va, leaf in walked.items():
        e = by_va[va]
        assert e.pa == leaf.pa, f"{va:#x}: info tlb says pa {e.pa:#x}, the walk {leaf.pa:#x}"
        shown = tlb_flags(leaf.entry, leaf.size)
        assert e.flags == shown, f"{va:#x}: info tlb says {e.flags}, the walk {shown}"


def _merged(ranges: list[tuple[int, int, str, WalkedLeaf]]) -> list[tuple[int, int, str, WalkedLeaf]]:
    """Touching frame ranges of one kind as one (each keeps its first leaf, for the message)."""
    out: list[list] = []
    for start, end, kind, leaf in sorted(ranges, key=lambda r: r[0]):
        if out and out[-1][1] >= start and out[-1][2] == kind:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end, kind, leaf])
    return [tuple(r) for r in out]


def frame_conflicts(leaves: list[WalkedLeaf], pat: int) -> list[str]:
    """Every leaf that reaches a frame another leaf makes executable while it is
    writable itself, or gives another memory type, one sentence each."""
    executable = _merged([(l.pa, l.end, "X", l) for l in leaves if l.executable])
    typed = _merged([(l.pa, l.end, t, l) for l in leaves if (t := memory_type(l, pat)) != "WB"])
    problems = []
    for leaf in leaves:
        if leaf.writable and not leaf.executable:  # W+X in one leaf is the per-page rule's
            for start, end, _, x in executable:
                if start < leaf.end and leaf.pa < end:
                    frame = max(start, leaf.pa)
                    problems.append(f"frame {frame:#x} writable at {leaf.va + frame - leaf.pa:#x} and executable "
                                    f"at {x.va + frame - x.pa:#x}")
        own = memory_type(leaf, pat)
        for start, end, other, t in typed:
            if other != own and start < leaf.end and leaf.pa < end:
                frame = max(start, leaf.pa)
                problems.append(f"frame {frame:#x} is {own} at {leaf.va + frame - leaf.pa:#x} and {other} "
                                f"at {t.va + frame - t.pa:#x}")
    return problems


def check_frames(leaves: list[WalkedLeaf], tlb: list[TlbEntry], pat: int) -> None:
    """The per-frame rules on the walk, once the walk is shown to be QEMU's own view."""
    check_walk_matches_info_tlb(leaves, tlb)
    problems = frame_conflicts(leaves, pat)
    assert not problems, "; ".join(problems[:4]) + (f" (and {len(problems) - 4} more)" if len(problems) > 4 else "")
