"""What the tests read over the monitor once a chapter's kernel has finished.

A chapter test boots the kernel and then asks QEMU itself, the independent
oracle, how the finished machine looks: ``info registers``, ``info tlb``, a
page walk read with ``xp``. Those readings are taken after the kernel has
written its exit code (:func:`harness.qemu.inspects_after_exit`), so the boot
is the very boot ``make run`` shows, and the book quotes several of them.

:data:`AFTER_EXIT` names those boots and what is read after each. It is the
one list both sides use: the book step (``scripts/book/capture_logs.py``)
makes each boot with these readings and keeps them with the log, and a test
that asks for :func:`inspected_boot` in the same ``make test`` gets that boot
back instead of booting it again (:mod:`harness.boot_logs`). The readings
that are functions live here too, so a reading kept under a name is always
made by the same code.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Callable

from .monitor import parse_info_registers
from .paths import REPO_ROOT
from .qemu import BootConfig, BootResult

# The page walk the GDB helpers use, pure Python and checked by test_debug.py.
sys.path.insert(0, str(REPO_ROOT / "scripts" / "gdb"))
import kmodel  # noqa: E402

Hmp = Callable[[str], str]

PAGE = 4096


def read_qwords(hmp: Hmp, pa: int, count: int) -> list[int]:
    """``count`` 64-bit words of guest-physical memory; ``xp`` prints
    "<address>: 0x<qword> 0x<qword>" lines."""
    out = hmp(f"xp /{count}gx {pa:#x}")
    words = [int(w, 16) for line in out.splitlines() if ":" in line
             for w in re.findall(r"0x([0-9a-f]+)", line.split(":", 1)[1])]
    assert len(words) == count, out
    return words


def walker(hmp: Hmp) -> Callable[[int], kmodel.Walk]:
    """The MMU's walk for a VA, from the CPU's own CR3, CR4 and EFER (read
    once, here), every entry read from guest memory with ``xp``;
    ``kmodel.walk`` does the rest."""
    registers = parse_info_registers(hmp("info registers"))

    def read(pa: int, length: int) -> bytes:
        return b"".join(word.to_bytes(8, "little") for word in read_qwords(hmp, pa, length // 8))

    return lambda va: kmodel.walk(va, registers["CR3"], read, registers["CR4"], registers["EFER"])


def _level_number(step: kmodel.WalkStep) -> int:
    """1 for a PTE, 2 for a PDE, 3 for a PDPTE, 4 for a PML4E."""
    return (step.level.shift - 12) // 9 + 1


# ---- from chapter 04 on: every leaf of the live tables --------------------------------


@dataclasses.dataclass(frozen=True)
class WalkedLeaf:
    """One leaf found by :func:`page_table_leaves`: its entry as read from guest
    memory, its page size, and the rights all levels together grant."""

    va: int  # canonical
    size: int
    entry: int
    writable: bool
    executable: bool
    user: bool

    @property
    def pa(self) -> int:
        return self.entry & kmodel.ADDRESS_MASK & ~(self.size - 1)  # bit 12 of a large leaf is PAT

    @property
    def end(self) -> int:
        return self.pa + self.size

    @property
    def pat_index(self) -> int:
        """PAT index (0-7) the leaf selects: PAT, PCD, PWT (SDM Vol. 3A, 11.12.3);
        PAT is bit 7 in a 4 KiB entry and bit 12 in a large one."""
        pat = kmodel.PAT_4K if self.size == PAGE else kmodel.PAT_LARGE
        return (4 if self.entry & pat else 0) | (2 if self.entry & kmodel.PCD else 0) | (1 if self.entry & kmodel.PWT else 0)


def page_table_leaves(hmp: Hmp) -> str:
    """Every leaf of the live tables, walked from the CPU's own CR3 with
    physical reads (one ``xp /512gx`` per table), so each leaf comes with its
    size, which ``info tlb`` does not print. One line per leaf:
    ``<va> <size> <entry> <rights>``, rights ``W``/``X``/``U`` as all levels
    together grant them ('-' where denied)."""
    registers = parse_info_registers(hmp("info registers"))
    return _leaves_from(hmp, registers, registers["CR3"] & kmodel.ADDRESS_MASK)


def parent_page_table_leaves(hmp: Hmp, hold_record) -> str:
    """:func:`page_table_leaves` of another address space than the CPU's:
    the PML4 the hold line names as ``parent-pml4`` (chapter 14 holds in a
    forked child, and walks its parent's tables beside it)."""
    registers = parse_info_registers(hmp("info registers"))
    return _leaves_from(hmp, registers, int(hold_record.fields["parent-pml4"], 0))


parent_page_table_leaves.reads_hold_record = True


def _leaves_from(hmp: Hmp, registers: dict, root: int) -> str:
    levels = kmodel.levels_for(registers["CR4"])
    nxe = bool(registers["EFER"] & kmodel.EFER_NXE)
    lines: list[str] = []

    def visit(table: int, depth: int, va_base: int, w: bool, x: bool, u: bool) -> None:
        level = levels[depth]
        for index, entry in enumerate(read_qwords(hmp, table, kmodel.PAGE_TABLE_ENTRIES)):
            if not entry & kmodel.P:
                continue
            va = va_base + (index << level.shift)
            rights = (w and bool(entry & kmodel.RW), x and not (nxe and entry & kmodel.NX), u and bool(entry & kmodel.US))
            if level.shift == 12 or (entry & kmodel.PS and level.shift < 39):
                text = "".join(c if ok else "-" for c, ok in zip("WXU", rights))
                lines.append(f"{kmodel.sign_extend(va, levels):016x} {level.span:#x} {entry:016x} {text}")
            elif not entry & kmodel.PS:  # PS in a PML4 entry is reserved: nothing to follow
                visit(kmodel.table_address(entry, level), depth + 1, va, *rights)

    visit(root, 0, 0, True, True, True)
    return "\n".join(lines)


def parse_page_table_leaves(text: str) -> list[WalkedLeaf]:
    """:func:`page_table_leaves`' lines as :class:`WalkedLeaf` values."""
    leaves = []
    for line in text.splitlines():
        va, size, entry, rights = line.split()
        leaves.append(WalkedLeaf(int(va, 16), int(size, 16), int(entry, 16), rights[0] == "W", rights[1] == "X",
                                 rights[2] == "U"))
    return leaves


# ---- chapter 06: the device pages and the framebuffer ------------------------------

MMIO_BASE = 0xFFFF_C000_0000_0000
FRAMEBUFFER_BASE = 0xFFFF_D000_0000_0000
#: The LAPIC, IOAPIC and HPET pages, the framebuffer's first 2 MiB and the 4 KiB page after it.
MMIO_WALKED = [MMIO_BASE, MMIO_BASE + PAGE, MMIO_BASE + 2 * PAGE, FRAMEBUFFER_BASE, FRAMEBUFFER_BASE + (2 << 20)]


def mmio_page_walk(hmp: Hmp) -> str:
    """One line per address of :data:`MMIO_WALKED`, where its walk ends:
    ``<va> <level> <entry>``, level 1 a PTE, 2 a 2 MiB PDE, 3 a 1 GiB PDPTE;
    the entry is 0 where one is absent."""
    walk, lines = walker(hmp), []
    for va in MMIO_WALKED:
        last = walk(va).steps[-1]
        lines.append(f"{va:#x} {_level_number(last)} {last.entry if last.present else 0:#x}")
    return "\n".join(lines)


def parse_page_walk(text: str) -> dict[int, tuple[int, int]]:
    """:func:`mmio_page_walk`'s lines as ``{va: (level, entry)}``."""
    out = {}
    for line in text.splitlines():
        va, level, entry = line.split()
        out[int(va, 16)] = (int(level), int(entry, 16))
    return out


def screendump(hmp: Hmp) -> str:
    """The screen as QEMU shows it: a binary PPM, compressed and base64-encoded
    so it keeps as text (the chapter's colour bars shrink to a few KiB)."""
    with tempfile.TemporaryDirectory(prefix="screendump-") as scratch:
        path = Path(scratch) / "screen.ppm"
        hmp(f"screendump {path}")
        return base64.b64encode(zlib.compress(path.read_bytes())).decode("ascii")


def screen_ppm(result: BootResult) -> bytes:
    """The PPM file :func:`screendump` read from ``result``."""
    return zlib.decompress(base64.b64decode(result.monitor["screendump"]))


# ---- chapter 07: the temporary window's slot ---------------------------------------

TEMPORARY_WINDOW_SLOT = 0xFFFF_FFFE_0000_0000


def slot_walk(hmp: Hmp) -> str:
    """The slot's PML4E, PDPTE and PDE, read from guest memory starting at CR3,
    then the 512 entries of the page table the PDE names: ``<name> <entry>...``."""
    names = {4: "pml4e", 3: "pdpte", 2: "pde"}
    upper = [step for step in walker(hmp)(TEMPORARY_WINDOW_SLOT).steps if _level_number(step) in names]
    lines = [f"{names[_level_number(step)]} {step.entry:#x}" for step in upper]
    pde = upper[-1]
    if _level_number(pde) == 2 and pde.present and not pde.leaf:
        table = kmodel.table_address(pde.entry, pde.level)
        lines.append("pt " + " ".join(f"{w:#x}" for w in read_qwords(hmp, table, kmodel.PAGE_TABLE_ENTRIES)))
    return "\n".join(lines)


# ---- chapter 10: the TSS descriptor --------------------------------------------------


def tss_descriptor(hmp: Hmp) -> str:
    """The GDT's TSS descriptor (entries 3 and 4) as it is in memory, read by
    QEMU at the GDT base QEMU itself reports."""
    base = int(re.search(r"GDT=\s+([0-9a-f]+)", hmp("info registers"))[1], 16)
    return hmp(f"x /2gx {base + 0x18:#x}")


# ---- the boots ------------------------------------------------------------------------

#: (chapter, command line, RAM) -> what the tests read after that boot; RAM ""
#: is the default machine's, any other value a page's ``:memory:``. Every
#: other setting is the default. The book quotes each of these boots.
AFTER_EXIT: dict[tuple[str, str, str], tuple] = {
    ("01-boot", "loader.dump-map", ""): ("info registers", "info mem", "info tlb", "info pci", screendump),
    ("02-memory-map", "loader.dump-map", ""): ("info memory_size_summary", "info registers", "info tlb"),
    ("03-frame-allocator", "loader.dump-map", ""): ("info registers", "info tlb"),
    ("04-page-tables", "", "4G"): ("info registers", "info mem", "info tlb", page_table_leaves, screendump),
    ("05-paging", "", "8G"): ("info registers", "info tlb", page_table_leaves),
    ("06-mmio", "", ""): ("info tlb", "info registers", mmio_page_walk, screendump, page_table_leaves),
    ("07-temporary-window", "", ""): ("info registers", "info tlb", slot_walk, page_table_leaves),
    ("08-handoff-remap", "probe=upper-half", ""): ("info registers", "info mem", "info tlb", page_table_leaves),
    ("09-verify", "", ""): ("info registers", "info mem", "info tlb", page_table_leaves),
    ("10-page-faults", "", ""): ("info registers", "info tlb", tss_descriptor, page_table_leaves),
    ("11-heap", "loader.dump-map", ""): ("info registers", "info tlb", page_table_leaves, screendump),
    ("12-user-space", "", ""): ("info registers", "info tlb", page_table_leaves),
    ("13-demand-paging", "", ""): ("info registers", "info tlb", page_table_leaves),
    ("14-copy-on-write", "", ""): ("info registers", "info tlb", page_table_leaves),
    ("15-tlb-shootdown", "", ""): ("info registers", "info tlb", page_table_leaves),
    ("16-five-level-paging", "paging=5", ""): ("info registers", "info tlb", page_table_leaves),
}


def book_boot(chapter: str, cmdline: str, memory: str = "") -> BootConfig:
    """The configuration the book step boots for a quoted (chapter, command
    line, RAM), with the readings :data:`AFTER_EXIT` lists for it, if any."""
    config = BootConfig(chapter, cmdline=cmdline, monitor_commands=AFTER_EXIT.get((chapter, cmdline, memory), ()))
    return dataclasses.replace(config, memory=memory) if memory else config


def inspected_boot(chapter: str, cmdline: str = "", memory: str = "") -> BootConfig:
    """The boot :data:`AFTER_EXIT` lists as (``chapter``, ``cmdline``,
    ``memory``), with its readings. A test that wants the same readings on
    another machine changes the result with ``dataclasses.replace``; that
    boot is then its own."""
    if (chapter, cmdline, memory) not in AFTER_EXIT:
        raise KeyError(f"no readings listed for {(chapter, cmdline, memory)}; add them to AFTER_EXIT")
    return book_boot(chapter, cmdline, memory)
