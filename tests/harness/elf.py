"""Reads an ELF64 file's header and program headers with nothing but struct:
the tests' independent view of kernel.elf, and a tool to build broken copies."""

from __future__ import annotations

import struct
from dataclasses import dataclass

PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
E_MACHINE_OFFSET = 18
E_PHOFF_OFFSET = 32


@dataclass(frozen=True)
class Segment:
    index: int
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class ElfFile:
    entry: int
    segments: list[Segment]

    @property
    def loads(self) -> list[Segment]:
        return [s for s in self.segments if s.type == PT_LOAD and s.memsz > 0]


def read_elf(data: bytes) -> ElfFile:
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not an ELF64 file")
    entry, phoff = struct.unpack_from("<QQ", data, 24)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    segments = []
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize
        )
        segments.append(Segment(i, p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz))
    return ElfFile(entry, segments)


def program_header_offset(data: bytes, index: int) -> int:
    phoff = struct.unpack_from("<Q", data, E_PHOFF_OFFSET)[0]
    phentsize = struct.unpack_from("<H", data, 54)[0]
    return phoff + index * phentsize


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """A copy of ``data`` with one little-endian field replaced."""
    out = bytearray(data)
    struct.pack_into("<" + fmt, out, offset, value)
    return bytes(out)
