"""What the GDB helpers know about the machine, without GDB.

Pure Python (no ``import gdb``), so the host tests can check it against the
C++ headers and against fake page tables (``tests/test_debug.py``):

* x86_64 page-table entries and walks (4-level, and 5-level when CR4.LA57 is set);
* the loader's ``BootHandoff`` (``common/include/boot/handoff.h``) and the UEFI
  memory map it points to (``common/include/boot/uefi_memory.h``);
* the section tables of the loader's two files, ``loader.so`` (ELF, with the
  debug info) and ``BOOTX64.EFI`` (PE32+, what the firmware loads).

Every reader takes a ``read(physical_address, length) -> bytes`` function; the
GDB side (``kgdb.py``) supplies one that reads guest physical memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable, Iterable

Read = Callable[[int, int], bytes]

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

# ---------------------------------------------------------------------------
# Page tables (Intel SDM vol. 3A, 4.5 "4-level paging and 5-level paging")
# ---------------------------------------------------------------------------

P, RW, US, PWT, PCD, A, D, PS, G = (1 << bit for bit in range(9))
NX = 1 << 63
PAT_4K = 1 << 7  # in a 4 KiB PTE, bit 7 is PAT, not PS
PAT_LARGE = 1 << 12  # in a 2 MiB / 1 GiB entry
ADDRESS_MASK = 0x000F_FFFF_FFFF_F000  # bits 51:12

# Bits the CPU ignores in a leaf, which the kernel uses for itself from chapter
# 12 on (user_flags in common/mm/user_address_space.h and copy_on_write.h):
# a frame the process only borrows (a module's text), and a page shared
# copy-on-write (read-only, writable in intent).
BORROWED = 1 << 9
COPY_ON_WRITE = 1 << 10
SOFTWARE_MARKS = ((BORROWED, "borrowed"), (COPY_ON_WRITE, "copy-on-write"))

CR0_WP = 1 << 16
CR4_LA57 = 1 << 12
EFER_NXE = 1 << 11

PAGE_TABLE_ENTRIES = 512
TABLE_BYTES = 4096


@dataclass(frozen=True)
class Level:
    name: str
    shift: int  # the VA bits that index this level start here

    @property
    def span(self) -> int:
        """Bytes one entry of this level covers."""
        return 1 << self.shift


LEVELS_4 = (Level("PML4", 39), Level("PDPT", 30), Level("PD", 21), Level("PT", 12))
LEVELS_5 = (Level("PML5", 48),) + LEVELS_4


def levels_for(cr4: int) -> tuple[Level, ...]:
    return LEVELS_5 if cr4 & CR4_LA57 else LEVELS_4


def size_text(size: int) -> str:
    """4096 -> '4KiB', like the kernel's klog::size."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{name}"
    return f"{size}B"


def entry_flags(entry: int, leaf: bool, level: Level) -> str:
    """'P|RW|NX', the set bits by their SDM names. Bit 7 is PS in a directory
    entry and PAT in a 4 KiB PTE; D and G mean something only in a leaf."""
    names = [(P, "P"), (RW, "RW"), (US, "US"), (PWT, "PWT"), (PCD, "PCD"), (A, "A")]
    if leaf:
        names.append((D, "D"))
        if level.shift == 12:
            names.append((PAT_4K, "PAT"))
        else:
            names += [(PS, "PS"), (PAT_LARGE, "PAT")]
        names.append((G, "G"))
    else:
        names.append((PS, "PS"))
    names.append((NX, "NX"))
    return "|".join(name for bit, name in names if entry & bit) or "-"


def software_marks(entry: int) -> list[str]:
    """The kernel's own marks on a user 4 KiB leaf: 'borrowed', 'copy-on-write'.
    Only a user leaf carries them; anywhere else those bits mean nothing here."""
    if not (entry & P and entry & US):
        return []
    return [name for bit, name in SOFTWARE_MARKS if entry & bit]


def canonical(va: int, levels: tuple[Level, ...]) -> bool:
    top = levels[0].shift + 9  # 48 or 57 significant bits
    upper = va >> (top - 1)
    return upper == 0 or upper == (1 << (64 - top + 1)) - 1


def access_text(writable: bool, executable: bool) -> str:
    """'R', 'RW', 'RX' or 'RWX': the loader's segment notation (flags=RX)."""
    return "R" + ("W" if writable else "") + ("X" if executable else "")


@dataclass
class WalkStep:
    level: Level
    index: int
    entry_address: int  # physical address of the entry
    entry: int

    @property
    def present(self) -> bool:
        return bool(self.entry & P)

    @property
    def leaf(self) -> bool:
        return self.present and (self.level.shift == 12 or bool(self.entry & PS))  # PS at PML4/PML5: reported by walk()


@dataclass
class Walk:
    va: int
    cr3: int
    levels: int = 4  # 5 when CR4.LA57 was set: the walk starts at a PML5
    steps: list[WalkStep] = field(default_factory=list)
    pa: int | None = None  # None: not mapped
    page_size: int = 0
    writable: bool = False
    executable: bool = False
    user: bool = False
    problem: str = ""  # why there is no translation

    @property
    def access(self) -> str:
        return access_text(self.writable, self.executable)


def table_address(entry: int, level: Level) -> int:
    return entry & ADDRESS_MASK


def leaf_frame(entry: int, level: Level) -> int:
    """Physical base of the page a leaf entry maps (the PAT bit 12 of a large page is not address)."""
    return entry & ADDRESS_MASK & ~(level.span - 1)


def walk(va: int, cr3: int, read: Read, cr4: int = 0, efer: int = EFER_NXE) -> Walk:
    """Translate ``va`` the way the MMU would, recording each level's entry."""
    levels = levels_for(cr4)
    result = Walk(va=va, cr3=cr3, levels=len(levels))
    va &= (1 << 64) - 1
    if not canonical(va, levels):
        result.problem = f"not canonical for {len(levels)}-level paging"
        return result
    table = cr3 & ADDRESS_MASK  # bits 11:0 are PCID or PWT/PCD
    writable = user = True
    no_execute = False
    for level in levels:
        index = (va >> level.shift) & (PAGE_TABLE_ENTRIES - 1)
        address = table + index * 8
        entry = struct.unpack("<Q", read(address, 8))[0]
        step = WalkStep(level, index, address, entry)
        result.steps.append(step)
        if not step.present:
            result.problem = f"{level.name}[{index}] not present"
            return result
        writable &= bool(entry & RW)
        user &= bool(entry & US)
        no_execute |= bool(entry & NX)
        if step.leaf:
            if level.shift >= 39:
                result.problem = f"{level.name}[{index}] has PS set (reserved at this level)"
                return result
            result.pa = leaf_frame(entry, level) + (va & (level.span - 1))
            result.page_size = level.span
            result.writable, result.user = writable, user
            result.executable = not (no_execute and efer & EFER_NXE)
            return result
        table = table_address(entry, level)
    raise AssertionError("unreachable: the last level is always a leaf")


@dataclass
class Leaf:
    va: int
    pa: int
    size: int
    writable: bool
    executable: bool
    user: bool
    cache: int  # PWT|PCD|PAT bits of the leaf, as one number
    marks: tuple[str, ...] = ()  # software_marks() of a 4 KiB leaf

    @property
    def access(self) -> str:
        return access_text(self.writable, self.executable)


def sign_extend(va: int, levels: tuple[Level, ...]) -> int:
    top = levels[0].shift + 9
    return va | (((1 << 64) - 1) ^ ((1 << top) - 1)) if va >> (top - 1) & 1 else va


def all_leaves(cr3: int, read: Read, cr4: int = 0, efer: int = EFER_NXE, lower_half_only: bool = False) -> list[Leaf]:
    """Every present leaf reachable from ``cr3``, in VA order. Reads each table
    once; with ``lower_half_only``, only under the top table's slots 0-255 (a
    process's own half: the kernel's half is the same in every process)."""
    levels = levels_for(cr4)
    leaves: list[Leaf] = []

    def visit(table: int, depth: int, va_base: int, writable: bool, executable: bool, user: bool) -> None:
        level = levels[depth]
        raw = read(table, TABLE_BYTES)
        for index, entry in enumerate(struct.unpack("<512Q", raw)):
            if not entry & P or (lower_half_only and depth == 0 and index >= PAGE_TABLE_ENTRIES // 2):
                continue
            va = va_base + (index << level.shift)
            w = writable and bool(entry & RW)
            x = executable and not (entry & NX and efer & EFER_NXE)
            u = user and bool(entry & US)
            if level.shift == 12 or (entry & PS and level.shift < 39):
                pat = PAT_4K if level.shift == 12 else PAT_LARGE
                marks = tuple(software_marks(entry)) if level.shift == 12 and u else ()
                leaves.append(Leaf(sign_extend(va, levels), leaf_frame(entry, level), level.span, w, x, u,
                                   entry & (PWT | PCD | pat), marks))
            elif not entry & PS:  # PS in a PML4/PML5 entry is reserved: nothing to follow
                visit(table_address(entry, level), depth + 1, va, w, x, u)

    visit(cr3 & ADDRESS_MASK, 0, 0, True, True, True)
    return leaves


@dataclass
class Run:
    """Contiguous leaves with one VA-to-PA offset and the same permissions."""

    va: int
    pa: int
    size: int
    access: str
    user: bool
    cache: int
    pages: dict[int, int] = field(default_factory=dict)  # page size -> count

    @property
    def end(self) -> int:
        return self.va + self.size

    def describe_pages(self) -> str:
        return "+".join(f"{size_text(s)}x{n}" for s, n in sorted(self.pages.items(), reverse=True))


def coalesce(leaves: Iterable[Leaf]) -> list[Run]:
    runs: list[Run] = []
    for leaf in leaves:
        last = runs[-1] if runs else None
        if (last and last.end == leaf.va and last.pa + last.size == leaf.pa and last.access == leaf.access
                and last.user == leaf.user and last.cache == leaf.cache):
            last.size += leaf.size
        else:
            last = Run(leaf.va, leaf.pa, leaf.size, leaf.access, leaf.user, leaf.cache)
            runs.append(last)
        last.pages[leaf.size] = last.pages.get(leaf.size, 0) + 1
    return runs


# ---------------------------------------------------------------------------
# The handoff and the UEFI memory map
# ---------------------------------------------------------------------------

HANDOFF_MAGIC = 0x4646_4F44_4E41_484D  # "MHANDOFF"
HANDOFF_VERSION = 3
COMMAND_LINE_CAPACITY = 256
MAX_BOOT_MODULES = 16
BOOT_MODULE_SIZE = 48  # name[32], physical_base, size

# (field, struct format) in declaration order: handoff.h pins every offset.
HANDOFF_FIELDS = (
    ("magic", "Q"), ("version", "I"), ("size", "I"),
    ("memory_map", "Q"), ("memory_map_size", "Q"), ("memory_map_capacity", "Q"),
    ("descriptor_size", "I"), ("descriptor_version", "I"),
    ("framebuffer_base", "Q"), ("framebuffer_size", "Q"), ("framebuffer_width", "I"),
    ("framebuffer_height", "I"), ("framebuffer_stride", "I"), ("framebuffer_format", "I"),
    ("rsdp", "Q"), ("rsdp_revision", "I"), ("reserved0", "I"),
    ("kernel_physical_base", "Q"), ("kernel_size", "Q"), ("kernel_virtual_base", "Q"),
    ("bootstrap_pml4", "Q"), ("boot_stack_base", "Q"), ("boot_stack_size", "Q"),
    ("loader_image_base", "Q"),
    ("command_line", f"{COMMAND_LINE_CAPACITY}s"),
    ("module_count", "I"), ("reserved1", "I"), ("modules", f"{MAX_BOOT_MODULES * BOOT_MODULE_SIZE}s"),
    ("framebuffer_masks", "16s"),  # red, green, blue, reserved: 4 x uint32, for PixelBitMask
)
HANDOFF_FORMAT = "<" + "".join(fmt for _, fmt in HANDOFF_FIELDS)
HANDOFF_SIZE = struct.calcsize(HANDOFF_FORMAT)


def handoff_offsets() -> dict[str, int]:
    offsets, offset = {}, 0
    for name, fmt in HANDOFF_FIELDS:
        offsets[name] = offset
        offset += struct.calcsize("<" + fmt)
    return offsets


def parse_handoff(raw: bytes) -> dict[str, object]:
    """The handoff's fields by name; raises ValueError unless magic, version and size check out."""
    values = dict(zip((name for name, _ in HANDOFF_FIELDS), struct.unpack(HANDOFF_FORMAT, raw[:HANDOFF_SIZE])))
    if values["magic"] != HANDOFF_MAGIC:
        raise ValueError(f"magic={values['magic']:#x}, not kHandoffMagic: not a BootHandoff")
    if values["version"] != HANDOFF_VERSION or values["size"] != HANDOFF_SIZE:
        raise ValueError(f"version={values['version']} size={values['size']}: this helper reads version "
                         f"{HANDOFF_VERSION}, size {HANDOFF_SIZE}")
    values["command_line"] = values["command_line"].split(b"\0", 1)[0].decode("ascii", "replace")
    return values


# The kernel's names (memory_type_name in uefi_memory.h; a host test compares them).
MEMORY_TYPE_NAMES = {
    0: "reserved", 1: "loader-code", 2: "loader-data", 3: "boot-code", 4: "boot-data",
    5: "runtime-code", 6: "runtime-data", 7: "conventional", 8: "unusable", 9: "acpi-reclaim",
    10: "acpi-nvs", 11: "mmio", 12: "mmio-port", 13: "pal-code", 14: "persistent", 15: "unaccepted",
    0x80000001: "kernel-image", 0x80000002: "boot-handoff", 0x80000003: "boot-page-tables",
    0x80000004: "boot-stack", 0x80000006: "boot-modules",
}


def memory_type_name(memory_type: int) -> str:
    if memory_type in MEMORY_TYPE_NAMES:
        return MEMORY_TYPE_NAMES[memory_type]
    return "os-defined" if memory_type >= 0x80000000 else ("oem-defined" if memory_type >= 0x70000000 else "invalid")


@dataclass(frozen=True)
class Descriptor:
    index: int
    type: int
    start: int
    pages: int
    attribute: int
    virtual_start: int = 0

    @property
    def end(self) -> int:
        return self.start + self.pages * 4096

    @property
    def type_name(self) -> str:
        return memory_type_name(self.type)


DESCRIPTOR_FORMAT = "<IIQQQQ"  # type, padding, physical_start, virtual_start, number_of_pages, attribute
DESCRIPTOR_MIN_SIZE = struct.calcsize(DESCRIPTOR_FORMAT)


def parse_memory_map(raw: bytes, descriptor_size: int) -> list[Descriptor]:
    """Descriptors ``descriptor_size`` bytes apart (never sizeof: newer firmware pads them)."""
    if descriptor_size < DESCRIPTOR_MIN_SIZE:
        raise ValueError(f"descriptor_size={descriptor_size} is below {DESCRIPTOR_MIN_SIZE}")
    out = []
    for index, offset in enumerate(range(0, len(raw) - descriptor_size + 1, descriptor_size)):
        kind, _, start, virtual, pages, attribute = struct.unpack_from(DESCRIPTOR_FORMAT, raw, offset)
        out.append(Descriptor(index, kind, start, pages, attribute, virtual))
    return out


# ---------------------------------------------------------------------------
# The loader's files: ELF sections of loader.so, PE sections of BOOTX64.EFI
# ---------------------------------------------------------------------------

SHF_ALLOC = 0x2


def elf_sections(data: bytes) -> dict[str, tuple[int, int]]:
    """Allocated sections of an ELF64 file: name -> (address, size)."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not an ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_offset = headers[shstrndx][4]

    def name(offset: int) -> str:
        start = strtab_offset + offset
        return data[start:data.index(b"\0", start)].decode()

    return {name(h[0]): (h[3], h[5]) for h in headers if h[2] & SHF_ALLOC and h[5]}


@dataclass(frozen=True)
class PeImage:
    size_of_image: int
    time_date_stamp: int
    image_base: int  # the preferred base in the file (GNU-EFI: 0)
    sections: dict[str, tuple[int, int]]  # name -> (RVA, virtual size)


def pe_image(data: bytes) -> PeImage:
    """The PE32+ headers of an EFI application (PE/COFF spec, "Section Table")."""
    if data[:2] != b"MZ":
        raise ValueError("no MZ signature")
    pe, = struct.unpack_from("<I", data, 0x3C)
    if data[pe:pe + 4] != b"PE\0\0":
        raise ValueError("no PE signature")
    _machine, count, stamp, _, _, optional_size, _ = struct.unpack_from("<HHIIIHH", data, pe + 4)
    optional = pe + 24
    image_base, = struct.unpack_from("<Q", data, optional + 24)
    size_of_image, = struct.unpack_from("<I", data, optional + 56)
    sections = {}
    for i in range(count):
        entry = optional + optional_size + 40 * i
        raw_name, virtual_size, rva = struct.unpack_from("<8sII", data, entry)
        sections[raw_name.rstrip(b"\0").decode()] = (rva, virtual_size)
    return PeImage(size_of_image, stamp, image_base, sections)


def pe_header_bytes(data: bytes) -> int:
    """How many bytes of the file the headers and section table take (to read them from memory)."""
    pe, = struct.unpack_from("<I", data, 0x3C)
    count, = struct.unpack_from("<H", data, pe + 6)
    optional_size, = struct.unpack_from("<H", data, pe + 20)
    return pe + 24 + optional_size + 40 * count


def loader_section_addresses(elf: dict[str, tuple[int, int]], pe: PeImage, base: int) -> dict[str, int]:
    """Where each allocated section of loader.so is at run time.

    The firmware places each PE section at ``base + RVA``. objcopy keeps the
    ELF addresses as RVAs (GNU-EFI links the .so at 0, ImageBase 0), but this
    takes the PE's own RVA wherever the section exists in both, so it stays
    right if they ever differ. Sections objcopy dropped keep ``base + address``.
    """
    out = {}
    for name, (address, _size) in elf.items():
        out[name] = base + (pe.sections[name][0] if name in pe.sections else address - pe.image_base)
    return out


# ---------------------------------------------------------------------------
# Processes (chapter 14's scheduler, common/mm/kernel/scheduler.h)
# ---------------------------------------------------------------------------

#: TaskState's values and task_state_name()'s words (common/mm/kernel/scheduler.cpp).
TASK_STATES = {0: "ready", 1: "waiting", 2: "zombie"}

USER_LIMIT = 1 << 47  # the lower half: what a process's PML4 holds of its own


@dataclass
class TaskView:
    """One slot of the scheduler's table, as kproc shows it."""

    pid: int
    parent: int
    state: str
    pml4: int
    copied: int
    taken_over: int
    name: str
    running: bool = False
    leaves: list[Leaf] = field(default_factory=list)  #: its lower half's leaves (none once its space is gone)


def share_counts(tasks: list[TaskView]) -> dict[int, tuple[int, int, int]]:
    """pid -> (pages, copy-on-write leaves, leaves whose frame another task
    also maps), from the tasks' own tables: what the reference counts should
    say, seen without them. Borrowed leaves (module text) are not the
    processes' frames and are left out of all three."""
    owners: dict[int, set[int]] = {}
    for task in tasks:
        for leaf in task.leaves:
            if "borrowed" not in leaf.marks:
                owners.setdefault(leaf.pa, set()).add(task.pid)
    out = {}
    for task in tasks:
        own = [leaf for leaf in task.leaves if "borrowed" not in leaf.marks]
        out[task.pid] = (len(own), sum("copy-on-write" in leaf.marks for leaf in own),
                         sum(len(owners[leaf.pa]) > 1 for leaf in own))
    return out


def format_tasks(tasks: list[TaskView], method: str) -> list[str]:
    """kproc's lines: a summary, then one key=value line per task, in slot order."""
    counts = share_counts(tasks)
    current = next((t.pid for t in tasks if t.running), 0)
    lines = [f"kproc tasks={len(tasks)} current={current} (physical reads: {method})"]
    for t in tasks:
        pages, cow, shared = counts[t.pid]
        lines.append(f"  pid={t.pid} parent={t.parent} state={t.state} pml4={t.pml4:#x} pages={pages} cow={cow} "
                     f"shared={shared} copied={t.copied} taken-over={t.taken_over} name={t.name}"
                     + (" running" if t.running else ""))
    return lines
