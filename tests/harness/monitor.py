"""Parsers for QEMU monitor output: QEMU's own view of the guest, the oracle
the tests hold the kernel's claims against.

Formats are those of QEMU 7.2's target/i386/monitor.c.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TlbEntry:
    """One leaf mapping from ``info tlb``: ``va: pa XGPDACTUW``."""

    va: int
    pa: int
    flags: str  # nine columns, '-' where the bit is clear

    @property
    def no_execute(self) -> bool:
        return self.flags[0] == "X"

    @property
    def huge(self) -> bool:
        return self.flags[2] == "P"

    @property
    def user(self) -> bool:
        return self.flags[7] == "U"

    @property
    def writable(self) -> bool:
        return self.flags[8] == "W"

    @property
    def cache_disabled(self) -> bool:
        return self.flags[5] == "C"

    @property
    def write_through(self) -> bool:
        return self.flags[6] == "T"


_TLB_LINE = re.compile(r"^([0-9a-f]{16}): ([0-9a-f]{16}) ([-XGPDACTUW]{9})$")


def parse_info_tlb(text: str) -> list[TlbEntry]:
    entries = []
    for line in text.splitlines():
        match = _TLB_LINE.match(line.strip())
        if match:
            entries.append(TlbEntry(int(match[1], 16), int(match[2], 16), match[3]))
    if not entries:
        raise ValueError(f"no mappings in 'info tlb' output: {text[:200]!r}")
    return entries


@dataclass(frozen=True)
class MemRange:
    """One merged range from ``info mem``: ``start-end size urw``."""

    start: int
    end: int
    permissions: str  # "urw" with '-' for clear bits; QEMU shows no NX here

    @property
    def writable(self) -> bool:
        return self.permissions[2] == "w"

    @property
    def user(self) -> bool:
        return self.permissions[0] == "u"


_MEM_LINE = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16}) ([0-9a-f]{16}) ([-u][-r][-w])$")


def parse_info_mem(text: str) -> list[MemRange]:
    ranges = []
    for line in text.splitlines():
        match = _MEM_LINE.match(line.strip())
        if match:
            ranges.append(MemRange(int(match[1], 16), int(match[2], 16), match[4]))
    if not ranges:
        raise ValueError(f"no ranges in 'info mem' output: {text[:200]!r}")
    return ranges


def ranges_covering(ranges: list[MemRange], start: int, end: int) -> list[MemRange]:
    """The ``info mem`` ranges that overlap [start, end)."""
    return [r for r in ranges if r.start < end and start < r.end]


_REGISTER = re.compile(r"\b(CR0|CR2|CR3|CR4|EFER|RIP|RSP)=([0-9a-f]+)")


def parse_info_registers(text: str) -> dict[str, int]:
    """Control registers and a few others from ``info registers`` (first CPU)."""
    values: dict[str, int] = {}
    for name, value in _REGISTER.findall(text):
        values.setdefault(name, int(value, 16))
    for required in ("CR0", "CR3", "CR4", "EFER"):
        if required not in values:
            raise ValueError(f"{required} missing from 'info registers' output")
    return values


@dataclass(frozen=True)
class PciBar:
    device: str  # e.g. "VGA controller"
    index: int
    start: int
    end: int  # inclusive, as QEMU prints it


_PCI_DEVICE = re.compile(r"^\s+(.+?): PCI device [0-9a-f]{4}:[0-9a-f]{4}$")
_PCI_BAR = re.compile(r"^\s+BAR(\d+): (?:32|64) bit (?:prefetchable )?memory at 0x([0-9a-f]+) \[0x([0-9a-f]+)\]")


def parse_info_pci_memory_bars(text: str) -> list[PciBar]:
    bars, device = [], ""
    for line in text.splitlines():
        if m := _PCI_DEVICE.match(line):
            device = m[1]
        elif m := _PCI_BAR.match(line):
            start, end = int(m[2], 16), int(m[3], 16)
            if start < end:  # unassigned BARs print as 0xffffffffffffffff
                bars.append(PciBar(device, int(m[1]), start, end))
    return bars
