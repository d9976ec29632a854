"""Protections of every chapter, verified from outside the guest.

The check itself is :func:`harness.protections.check_protections` (CR0.WP,
EFER.NXE, SMEP/SMAP as the CPU model allows, no user page, no W+X, nothing
executable outside the kernel's text, page 0 and the guard pages absent, and
from chapter 04 on no frame writable through one address and executable
through another, nor with two memory types, on a walk of the tables that must
agree with ``info tlb``). It
runs on the boot each chapter's own module reads over the monitor, so it costs no
boot of its own; this file makes sure that stays true for every chapter,
including a CPU model without SMEP/SMAP, and that the check can fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

import harness
from harness.log import parse_records
from harness.protections import check_protections, kernel_symbols, tlb_flags


def modules_of(chapter: str) -> list:
    return sorted((harness.REPO_ROOT / "tests").glob(f"test_{chapter[:2]}_*.py"))


@pytest.mark.parametrize("chapter", harness.chapters())
def test_every_chapter_checks_its_protections_on_an_inspected_boot(chapter):
    calls = [path.name for path in modules_of(chapter) if "check_protections(" in path.read_text()]
    assert calls, f"no test module of {chapter} calls check_protections() on a boot it reads over the monitor"


def test_a_cpu_without_smep_and_smap_is_checked_too():
    """-cpu max has SMEP/SMAP; some chapter must also check a model without them."""
    without = [path.name for chapter in harness.chapters() for path in modules_of(chapter)
               if "check_protections(" in path.read_text() and re.search(r'"qemu64"|"Westmere"', path.read_text())]
    assert without, "no module checks protections on a CPU without SMEP/SMAP"


# ---- the check rejects what it must ----------------------------------------------------


@dataclass
class _Config:
    cpu: str = "max"


@dataclass
class _Inspected:
    """Just enough of a BootResult for check_protections(); ``info tlb`` columns are XGPDACTUW."""

    monitor: dict
    log: str
    config: _Config = field(default_factory=_Config)

    def records_for(self, subsystem):
        return [r for r in parse_records(self.log) if r.subsystem == subsystem]


CHAPTER = "04-page-tables"
REGISTERS = "RIP=ffffffff80001000 CR0=80010033 CR2=0 CR3=1000 CR4=00300620 EFER=0000000000000d00"
LOG = "[INFO  cpu] protections wp=yes nxe=yes smep=yes smap=yes\n"


def _tlb(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def _text_page() -> str:
    return f"{kernel_symbols(CHAPTER)['__text_start']:016x}: 0000000001000000 ---------"


def _walk_of(tlb_line: str) -> str:
    """The walk reading that agrees with one ``info tlb`` line: its bits in an
    entry, 2 MiB where 'P' is shown, the leaf's own rights."""
    va, pa, flags = tlb_line.replace(":", "").split()
    bits = {"X": 1 << 63, "G": 1 << 8, "P": 1 << 7, "D": 1 << 6, "A": 1 << 5, "C": 1 << 4, "T": 1 << 3, "U": 1 << 2,
            "W": 1 << 1}
    entry = int(pa, 16) | 1 | sum(bits[c] for c in flags if c != "-")
    size = 2 << 20 if "P" in flags else 4096
    return _leaf(int(va, 16), size, entry)[1]


def _leaf(va: int, size: int, entry: int) -> tuple[str, str]:
    """One leaf as (``info tlb`` line, walk line), both from the entry, as QEMU and the walk read it."""
    pa = entry & 0x000F_FFFF_FFFF_F000 & ~(size - 1)
    rights = ("W" if entry & 2 else "-") + ("-" if entry >> 63 else "X") + ("U" if entry & 4 else "-")
    return f"{va:016x}: {pa:016x} {tlb_flags(entry, size)}", f"{va:016x} {size:#x} {entry:016x} {rights}"


def _inspected(*tlb_lines: str, registers: str = REGISTERS, log: str = LOG, walk: list[str] | None = None) -> _Inspected:
    walk = [_walk_of(line) for line in tlb_lines] if walk is None else walk
    return _Inspected({"info registers": registers, "info tlb": _tlb(*tlb_lines), "page_table_leaves": "\n".join(walk)},
                      log)


def test_the_check_passes_on_a_clean_address_space(built):
    check_protections(_inspected(_text_page()), CHAPTER)


@pytest.mark.parametrize("damage, message", [
    ("user", "user-accessible"),
    ("wx", "W+X"),
    ("exec-data", "outside the kernel's text"),
    ("page0", "page 0"),
    ("guard", "guard page"),
    ("wp-off", "CR0.WP"),
    ("smep-off", "SMEP/SMAP"),
])
def test_the_check_fails_on_each_broken_protection(built, damage, message):
    text_start = kernel_symbols(CHAPTER)["__text_start"]
    lines, registers = [_text_page()], REGISTERS
    if damage == "user":
        lines.append("ffff800000000000: 0000000000000000 XG-----U-")
    elif damage == "wx":
        lines.append(f"{text_start:016x}: 0000000001000000 --------W")
    elif damage == "exec-data":
        lines.append("ffff800000000000: 0000000000000000 ---------")
    elif damage == "page0":
        lines.append("0000000000000000: 0000000000000000 X--------")
    elif damage == "guard":
        lines.append(f"{text_start - 4096:016x}: 0000000000fff000 X--------")
    elif damage == "wp-off":
        registers = registers.replace("CR0=80010033", "CR0=80000033")
    elif damage == "smep-off":
        registers = registers.replace("CR4=00300620", "CR4=00000620")
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_protections(_inspected(*lines, registers=registers), CHAPTER)


# ---- the per-frame rules, from a walk of the tables ------------------------------------

P, RW, PWT, PCD, PS, PAT_4K, PAT_LARGE, NX = 1, 2, 1 << 3, 1 << 4, 1 << 7, 1 << 7, 1 << 12, 1 << 63
TEXT_PA, WINDOW, FRAMEBUFFER = 0x100_0000, 0xFFFF_8000_0000_0000, 0xFFFF_D000_0000_0000
#: Chapter 06 on: the kernel's PAT, PA4 = WC, as its [mmio] pat line says.
LOG_WITH_PAT = LOG + "[INFO  mmio] pat was=0x7040600070406 now=0x7040100070406 pa4=WC\n"


def _frames(*leaves: tuple[int, int, int], log: str = LOG, chapter: str = CHAPTER) -> None:
    """check_protections() on exactly these (va, size, entry) leaves, plus the text page at TEXT_PA."""
    text = (kernel_symbols(CHAPTER)["__text_start"], 4096, TEXT_PA | P)
    pairs = [_leaf(*leaf) for leaf in (text,) + leaves]
    check_protections(_inspected(*(t for t, _ in pairs), walk=[w for _, w in pairs], log=log), chapter)


def test_a_read_only_alias_of_the_text_passes(built):
    _frames((WINDOW + TEXT_PA, 4096, TEXT_PA | P | NX))


@pytest.mark.parametrize("leaf", [
    (WINDOW + TEXT_PA, 4096, TEXT_PA | P | RW | NX),                            # a 4 KiB window page
    (WINDOW + TEXT_PA, 2 << 20, TEXT_PA | P | RW | PS | NX),                   # a 2 MiB one over it
    (WINDOW, 1 << 30, P | RW | PS | NX),                                       # a 1 GiB one
], ids=["4KiB", "2MiB", "1GiB"])
def test_a_writable_alias_of_an_executable_frame_fails(built, leaf):
    """Each page alone is fine (RX at -2 GiB, RW+NX in the window): only the frame is not."""
    with pytest.raises(AssertionError, match=r"frame 0x1000000 writable at 0xffff800001000000 and executable at "):
        _frames(leaf)


def test_a_frame_with_two_memory_types_fails(built):
    """A framebuffer in RAM mapped WC (PAT index 4 under the kernel's PAT) and WB by a 2 MiB window page."""
    wc = (FRAMEBUFFER, 4096, 0x200_1000 | P | RW | PAT_4K | NX)
    wb = (WINDOW + 0x200_0000, 2 << 20, 0x200_0000 | P | RW | PS | NX)
    with pytest.raises(AssertionError, match=r"frame 0x2001000 is WB at 0xffff800002001000 and WC at 0xffffd00000000000"):
        _frames(wc, wb, log=LOG_WITH_PAT)
    # UC device registers over RAM, selected by PCD|PWT (PAT index 3), on a large page's PAT bit too.
    uc = (0xFFFF_C000_0000_0000, 4096, 0x200_1000 | P | RW | PCD | PWT | NX)
    with pytest.raises(AssertionError, match=r"is WB at .* and UC at 0xffffc00000000000"):
        _frames(uc, wb, log=LOG_WITH_PAT)
    # An ACPI table frame in the window (read-only, WB) that a device slot also maps UC.
    acpi = (0xFFFF_C800_0000_0000 + 0x200_1000, 4096, 0x200_1000 | P | NX)
    with pytest.raises(AssertionError, match=r"is WB at 0xffffc80002001000 and UC at 0xffffc00000000000"):
        _frames(acpi, uc, log=LOG_WITH_PAT)
    large_wc = (FRAMEBUFFER, 2 << 20, 0x200_0000 | P | RW | PS | PAT_LARGE | NX)
    with pytest.raises(AssertionError, match=r"is WB at 0xffff800002000000 and WC at 0xffffd00000000000"):
        _frames(large_wc, wb, log=LOG_WITH_PAT)


def test_the_type_comes_from_the_pat_in_force(built):
    """Before chapter 06 programs PA4 = WC, PAT index 4 is WB (the power-on PAT): one type, no conflict."""
    wc_index = (FRAMEBUFFER, 4096, 0x200_1000 | P | RW | PAT_4K | NX)
    wb = (WINDOW + 0x200_0000, 2 << 20, 0x200_0000 | P | RW | PS | NX)
    _frames(wc_index, wb, log=LOG)


@pytest.mark.parametrize("damage, message", [
    ("missing-in-tlb", "only in the walk"),
    ("missing-in-walk", "only in info tlb"),
    ("other-frame", "info tlb says pa"),
    ("other-bits", "info tlb says"),
])
def test_the_walk_must_be_qemus_own_view(built, damage, message):
    """The per-frame rules read the walk; it must agree with info tlb leaf for leaf."""
    text, window = _leaf(kernel_symbols(CHAPTER)["__text_start"], 4096, TEXT_PA | P), \
        _leaf(WINDOW + TEXT_PA, 4096, TEXT_PA | P | NX)
    tlb, walk = [text[0], window[0]], [text[1], window[1]]
    if damage == "missing-in-tlb":
        tlb.pop()
    elif damage == "missing-in-walk":
        walk.pop()
    elif damage == "other-frame":
        tlb[1] = _leaf(WINDOW + TEXT_PA, 4096, (TEXT_PA + 4096) | P | NX)[0]
    elif damage == "other-bits":
        tlb[1] = _leaf(WINDOW + TEXT_PA, 4096, TEXT_PA | P | RW | NX)[0]
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_protections(_inspected(*tlb, walk=walk), CHAPTER)


def test_a_boot_without_the_walk_is_refused_from_chapter_04_on(built):
    inspected = _inspected(_text_page())
    del inspected.monitor["page_table_leaves"]
    with pytest.raises(ValueError, match="page_table_leaves"):
        check_protections(inspected, CHAPTER)
