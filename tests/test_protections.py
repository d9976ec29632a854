"""Protections of every chapter, verified from outside the guest.

The check itself is :func:`harness.protections.check_protections` (CR0.WP,
EFER.NXE, SMEP/SMAP as the CPU model allows, no user page, no W+X, nothing
executable outside the kernel's text, page 0 and the guard pages absent). It
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
from harness.protections import check_protections, kernel_symbols


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


def _inspected(*tlb_lines: str, registers: str = REGISTERS, log: str = LOG) -> _Inspected:
    return _Inspected({"info registers": registers, "info tlb": _tlb(*tlb_lines)}, log)


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
