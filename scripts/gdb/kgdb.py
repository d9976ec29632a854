"""GDB commands for the tutorial's kernels: `kpt`, `kmemmap`, `klayout`, `kloader`, `kvmas`, `kproc`, `kcpus`.

`make debug` sources this file (the script from tests/harness/gdb.py); by hand:
``source scripts/gdb/kgdb.py``. `help kpt` etc. explain each command.

Physical memory. Page tables and the memory map hold *physical* addresses.
QEMU's GDB stub reads virtual memory through the current CR3, but the packet
``Qqemu.PhyMemMode:1`` (QEMU >= 4.1) switches it to physical addresses until
``Qqemu.PhyMemMode:0``. Every physical read here switches it on, reads, and
switches it back. When the stub does not know the packet (another stub, an old
QEMU), the reads fall back to the identity map that chapters 01-07 keep for
RAM (virtual == physical) and the output says so.

The pure logic (entry decoding, walks, handoff layout, PE/ELF sections) lives in
kmodel.py next to this file, where the host tests check it without GDB.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import gdb  # type: ignore[import-not-found]  (only inside GDB)

HERE = Path(os.path.abspath(__file__)).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import kmodel  # noqa: E402

REPO_ROOT = HERE.parent.parent
LOADER_SO = REPO_ROOT / "build" / "loader" / "loader.so"
LOADER_EFI = REPO_ROOT / "build" / "loader" / "BOOTX64.EFI"
HANDOFF_SYMBOL = "'kernel::(anonymous namespace)::g_handoff'"  # common/kernel/start.cpp


# ---------------------------------------------------------------------------
# Reading the guest
# ---------------------------------------------------------------------------


def _send_packet(packet: str) -> str:
    """Send a raw remote-protocol packet; return the reply ('' = not supported)."""
    connection = getattr(gdb.selected_inferior(), "connection", None)
    if connection is not None and hasattr(connection, "send_packet"):  # GDB >= 12
        reply = connection.send_packet(packet)
        return reply.decode("ascii", "replace") if isinstance(reply, bytes) else str(reply)
    text = gdb.execute(f"maintenance packet {packet}", to_string=True)
    return text.split('received: "', 1)[-1].rstrip().rstrip('"')


class PhysicalMemory:
    """Reads guest physical memory through QEMU's stub (see the module docstring)."""

    method = "unknown"

    @contextmanager
    def reader(self):
        inferior = gdb.selected_inferior()
        physical = _send_packet("Qqemu.PhyMemMode:1") == "OK"
        PhysicalMemory.method = "Qqemu.PhyMemMode" if physical else "identity map (stub has no Qqemu.PhyMemMode)"

        def read(address: int, length: int) -> bytes:
            try:
                return bytes(inferior.read_memory(address, length))
            except gdb.MemoryError as error:
                raise gdb.GdbError(f"cannot read physical memory at {address:#x}: {error}") from None

        try:
            yield read
        finally:
            if physical:
                _send_packet("Qqemu.PhyMemMode:0")
            gdb.execute("maintenance flush dcache", to_string=True)


PHYSICAL = PhysicalMemory()


def read_virtual(address: int, length: int) -> bytes:
    try:
        return bytes(gdb.selected_inferior().read_memory(address, length))
    except gdb.MemoryError as error:
        raise gdb.GdbError(f"cannot read {length} bytes at {address:#x}: {error}") from None


def register(name: str) -> int:
    return int(gdb.parse_and_eval(f"${name}")) & ((1 << 64) - 1)


def paging_registers() -> tuple[int, int, int]:
    try:
        return register("cr3"), register("cr4"), register("efer")
    except gdb.error as error:
        raise gdb.GdbError(f"cannot read CR3/CR4/EFER ({error}); is GDB attached to QEMU?") from None


def evaluate(expression: str) -> int:
    """An expression's value as an address. Arrays, functions and symbols
    without debug info (`__rodata_start`, `efi_main`) stand for their address."""
    try:
        value = gdb.parse_and_eval(expression)
    except gdb.error as error:
        raise gdb.GdbError(str(error)) from None
    if value.type.strip_typedefs().code in (gdb.TYPE_CODE_ARRAY, gdb.TYPE_CODE_FUNC) and value.address is not None:
        value = value.address
    try:
        return int(value) & ((1 << 64) - 1)
    except gdb.error:
        if value.address is not None:
            return int(value.address) & ((1 << 64) - 1)
        raise gdb.GdbError(f"{expression!r} is not an address") from None


def symbol_address(name: str) -> int | None:
    try:
        return evaluate(f"(unsigned long)&{name}")
    except (gdb.error, gdb.GdbError):
        return None


def hex_or_dash(value: int | None) -> str:
    return "-" if value is None else f"{value:#x}"


# ---------------------------------------------------------------------------
# Finding the handoff
# ---------------------------------------------------------------------------


def find_handoff(argument: str = "") -> tuple[int, dict[str, object], str]:
    """(address, fields, where it came from). Order: the argument; the kernel's
    g_handoff once kernel_start set it; kernel_start's `handoff` parameter or
    RDI at _start (the loader passes it there)."""
    candidates: list[tuple[str, int]] = []
    if argument.strip():
        candidates.append(("argument", evaluate(argument)))
    else:
        try:
            value = evaluate(HANDOFF_SYMBOL)
            if value:
                candidates.append(("g_handoff", value))
        except (gdb.error, gdb.GdbError):
            pass  # no kernel symbols loaded
        try:
            frame = gdb.newest_frame()
            while frame is not None:
                if frame.name() == "kernel_start":
                    candidates.append(("kernel_start's handoff", int(frame.read_var("handoff"))))
                    break
                if frame.name() == "_start":
                    candidates.append(("RDI at _start", int(frame.read_register("rdi"))))
                    break
                frame = frame.older()
        except (gdb.error, RuntimeError):
            pass
    if not candidates:
        raise gdb.GdbError("no handoff: the kernel has not started yet (stop at _start or later), "
                           "or pass its address: kmemmap ADDRESS")
    problems = []
    for source, address in candidates:
        try:
            return address, kmodel.parse_handoff(read_virtual(address, kmodel.HANDOFF_SIZE)), source
        except (ValueError, gdb.GdbError) as error:
            problems.append(f"{source} {address:#x}: {error}")
    raise gdb.GdbError("no valid handoff: " + "; ".join(problems))


# ---------------------------------------------------------------------------
# kpt
# ---------------------------------------------------------------------------


def format_walk(result: kmodel.Walk, method: str) -> list[str]:
    lines = [f"kpt va={result.va:#x} cr3={result.cr3:#x} levels={result.levels} (physical reads: {method})"]
    for step in result.steps:
        label = f"{step.level.name}[{step.index}]"
        if not step.present:
            what = "not present"
        elif step.leaf:
            what = f"-> page {kmodel.leaf_frame(step.entry, step.level):#x} ({kmodel.size_text(step.level.span)})"
            if step.level.shift == 12:  # a user leaf's own marks (chapters 12 and 14)
                what += "".join(f" {mark}" for mark in kmodel.software_marks(step.entry))
        else:
            what = f"-> table {kmodel.table_address(step.entry, step.level):#x}"
        flags = kmodel.entry_flags(step.entry, step.leaf, step.level) if step.present else "-"
        lines.append(f"  {label:<10} entry@{step.entry_address:#x} = {step.entry:#018x}  {flags:<24} {what}")
    if result.pa is None:
        lines.append(f"  va={result.va:#x} not mapped: {result.problem}")
    else:
        lines.append(f"  va={result.va:#x} pa={result.pa:#x} page={kmodel.size_text(result.page_size)} "
                     f"access={result.access} {'user' if result.user else 'supervisor'}")
    return lines


class KptCommand(gdb.Command):
    """Walk the live page tables for a virtual address: kpt [-cr3 CR3] VA

VA is any GDB expression (kpt &kernel_main, kpt $rsp, kpt 0xffffffff80001000).
CR3 defaults to the CPU's; -cr3 walks tables that are not loaded (e.g. the
loader's bootstrap PML4 after the kernel switched to its own). The walk has
5 levels, from a PML5, when the CPU's CR4.LA57 (bit 12) is set, else 4.
Prints each level's index, the entry's physical address, its raw value and
flags (P RW US PWT PCD A D PS PAT G NX), then the translation: physical
address, page size (4KiB, 2MiB, 1GiB) and the effective access (RW only if
every level allows writes, X unless some level sets NX and EFER.NXE is on),
written like the loader's segment flags (R, RW, RX). A user 4 KiB leaf also
shows the kernel's own marks in bits the CPU ignores: `borrowed` (bit 9, a
module's text mapped in place) and `copy-on-write` (bit 10, chapter 14)."""

    def __init__(self):
        super().__init__("kpt", gdb.COMMAND_DATA)

    def invoke(self, argument: str, from_tty: bool) -> None:
        cr3, cr4, efer = paging_registers()
        argument = argument.strip()
        if argument.startswith("-cr3"):
            _, cr3_text, argument = (argument.split(None, 2) + ["", ""])[:3]
            cr3 = evaluate(cr3_text)
        if not argument:
            raise gdb.GdbError("usage: kpt [-cr3 CR3] VA")
        va = evaluate(argument)
        with PHYSICAL.reader() as read:
            result = kmodel.walk(va, cr3, read, cr4, efer)
        gdb.write("\n".join(format_walk(result, PhysicalMemory.method)) + "\n")


# ---------------------------------------------------------------------------
# kmemmap
# ---------------------------------------------------------------------------


class KmemmapCommand(gdb.Command):
    """Print the UEFI memory map the loader handed over: kmemmap [HANDOFF]

The handoff is found like this: the argument (an address or expression); else
the kernel's g_handoff (common/kernel/start.cpp) once kernel_start has set it;
else kernel_start's `handoff` parameter or RDI at _start. The map itself is read
from physical memory, descriptor_size bytes apart, and printed with the
kernel's type names (memory_type_name in common/include/boot/uefi_memory.h)."""

    def __init__(self):
        super().__init__("kmemmap", gdb.COMMAND_DATA)

    def invoke(self, argument: str, from_tty: bool) -> None:
        address, handoff, source = find_handoff(argument)
        size, stride = handoff["memory_map_size"], handoff["descriptor_size"]
        if not 0 < size <= handoff["memory_map_capacity"] or size > 16 * kmodel.MiB:
            raise gdb.GdbError(f"memory_map_size={size} is not within capacity {handoff['memory_map_capacity']}")
        with PHYSICAL.reader() as read:
            raw = read(handoff["memory_map"], size)
        try:
            descriptors = kmodel.parse_memory_map(raw, stride)
        except ValueError as error:
            raise gdb.GdbError(str(error)) from None
        out = [f"kmemmap handoff={address:#x} ({source}) map={handoff['memory_map']:#x} size={size} "
               f"descriptor-size={stride} version={handoff['descriptor_version']} entries={len(descriptors)} "
               f"(physical reads: {PhysicalMemory.method})",
               f"  {'#':>4}  {'type':<17} {'start':>18}  {'end':>18}  {'pages':>9}  {'size':>8}  attribute"]
        totals: dict[str, int] = {}
        for d in descriptors:
            out.append(f"  {d.index:>4}  {d.type_name:<17} {d.start:#018x}  {d.end:#018x}  {d.pages:>9}  "
                       f"{kmodel.size_text(d.pages * 4096):>8}  {d.attribute:#x}")
            totals[d.type_name] = totals.get(d.type_name, 0) + d.pages * 4096
        out.append("  totals: " + " ".join(f"{name}={kmodel.size_text(total)}" for name, total in
                                            sorted(totals.items(), key=lambda item: -item[1])))
        gdb.write("\n".join(out) + "\n")


# ---------------------------------------------------------------------------
# klayout
# ---------------------------------------------------------------------------

# (name, start symbol, end symbol): common/kernel/kernel.ld, in address order.
IMAGE_REGIONS = (
    ("text", "__text_start", "__text_end"),
    ("rodata", "__rodata_start", "__rodata_end"),
    ("data+bss", "__data_start", "__boot_stack_guard"),
    ("boot-stack-guard", "__boot_stack_guard", "__boot_stack_bottom"),
    ("boot-stack", "__boot_stack_bottom", "__boot_stack_top"),
)


def describe_range(start: int, end: int, leaves: list[kmodel.Leaf]) -> str:
    """How [start, end) is mapped: 'pa=… access=RX pages=4KiB', 'not mapped' or 'partly mapped'."""
    inside = [leaf for leaf in leaves if leaf.va < end and leaf.va + leaf.size > start]
    covered = sum(min(end, leaf.va + leaf.size) - max(start, leaf.va) for leaf in inside)
    if not inside:
        return "not mapped"
    if covered < end - start:
        return f"partly mapped ({kmodel.size_text(covered)} of {kmodel.size_text(end - start)})"
    accesses = sorted({leaf.access for leaf in inside})
    sizes = sorted({leaf.size for leaf in inside}, reverse=True)
    first = inside[0]
    pa = first.pa + (start - first.va)
    contiguous = all(leaf.pa - leaf.va == first.pa - first.va for leaf in inside)
    return (f"pa={pa:#x}{'' if contiguous else '(scattered)'} access={'/'.join(accesses)} "
            f"pages={'+'.join(kmodel.size_text(s) for s in sizes)}")


class KlayoutCommand(gdb.Command):
    """Print the kernel's address space: klayout [CR3]

First the kernel image regions from the linker script's symbols (__text_start …
__boot_stack_top, common/kernel/kernel.ld) with the guard page below the image,
each with how the live tables map it; then every mapping in the tables, merged
into runs of one VA->PA offset and one access (identity map, kernel image, and
whatever later chapters add: phys window, MMIO, heap)."""

    def __init__(self):
        super().__init__("klayout", gdb.COMMAND_DATA)

    def invoke(self, argument: str, from_tty: bool) -> None:
        cr3, cr4, efer = paging_registers()
        if argument.strip():
            cr3 = evaluate(argument)
        with PHYSICAL.reader() as read:
            leaves = kmodel.all_leaves(cr3, read, cr4, efer)
        out = [f"klayout cr3={cr3:#x} (physical reads: {PhysicalMemory.method})", "kernel image (kernel.ld symbols):"]
        kernel_start = symbol_address("__kernel_start")
        if kernel_start is None:
            out.append("  (no kernel symbols: load kernel.elf with `file`)")
        else:
            regions = [("guard", kernel_start - 4096, kernel_start)]
            for name, first, last in IMAGE_REGIONS:
                start, end = symbol_address(first), symbol_address(last)
                if start is not None and end is not None and end > start:
                    regions.append((name, start, end))
            for name, start, end in regions:
                out.append(f"  {name:<17} {start:#018x}-{end:#018x} {kmodel.size_text(end - start):>8}  "
                           f"{describe_range(start, end, leaves)}")
        out.append("mappings (live tables, runs of one offset and one access):")
        kernel_end = symbol_address("__kernel_end")
        for run in kmodel.coalesce(leaves):
            if run.va == run.pa:
                kind = "identity"
            elif kernel_start is not None and kernel_end is not None and kernel_start <= run.va < kernel_end:
                kind = "kernel image"
            else:
                kind = f"offset {(run.va - run.pa) & ((1 << 64) - 1):#x}"
            cache = f" cache={run.cache:#x}" if run.cache else ""
            out.append(f"  {run.va:#018x}-{run.end:#018x} {kmodel.size_text(run.size):>8}  pa={run.pa:#x} "
                       f"access={run.access}{' user' if run.user else ''}{cache} pages={run.describe_pages()} {kind}")
        gdb.write("\n".join(out) + "\n")


# ---------------------------------------------------------------------------
# kloader
# ---------------------------------------------------------------------------


def loader_image_base(argument: str) -> tuple[int, str]:
    if argument.strip():
        return evaluate(argument), "argument"
    try:
        _, handoff, source = find_handoff()
        return int(handoff["loader_image_base"]), f"handoff.loader_image_base via {source}"
    except gdb.GdbError:
        pass
    variable = gdb.convenience_variable("loader_image_base")
    if variable is not None:
        return int(variable), "$loader_image_base (a previous boot's log, see make debug LOADER=1)"
    raise gdb.GdbError("loader image base unknown: give it (kloader 0x…, from the log line "
                       "`[INFO  loader] start … image-base=0x…`), set $loader_image_base, "
                       "or stop in the kernel (the handoff carries it)")


class KloaderCommand(gdb.Command):
    """Load the loader's symbols at its run-time address: kloader [IMAGE-BASE]

BOOTX64.EFI runs wherever the firmware put it. The base comes from: the
argument; else the handoff (handoff->loader_image_base, once the kernel has been
entered); else $loader_image_base (set by `make debug LOADER=1` from a first
boot's log). Symbols come from build/loader/loader.so (the ELF that objcopy
turned into BOOTX64.EFI); each section goes to base + its RVA in BOOTX64.EFI's
section table. GNU-EFI links the .so at 0 and objcopy keeps the addresses as
RVAs, so that is one offset, the base (checked, not assumed). Then
`hbreak efi_main` (hardware: the image is loaded after GDB attaches),
`list efi_main`, `info symbol $pc` work."""

    def __init__(self):
        super().__init__("kloader", gdb.COMMAND_FILES)

    def invoke(self, argument: str, from_tty: bool) -> None:
        base, source = loader_image_base(argument)
        if not (LOADER_SO.is_file() and LOADER_EFI.is_file()):
            raise gdb.GdbError(f"{LOADER_SO} or {LOADER_EFI} missing: run make")
        efi_bytes = LOADER_EFI.read_bytes()
        pe = kmodel.pe_image(efi_bytes)
        elf = kmodel.elf_sections(LOADER_SO.read_bytes())
        addresses = kmodel.loader_section_addresses(elf, pe, base)
        shifts = {addresses[name] - address for name, (address, _) in elf.items() if name in pe.sections}
        for objfile in gdb.objfiles():
            if objfile.filename and Path(objfile.filename) == LOADER_SO:
                gdb.execute(f"remove-symbol-file {LOADER_SO}", to_string=True)
        # -readnow: GDB 13 finds the line table of an offset objfile by PC only
        # once its symtabs are expanded (`info line efi_main` fails otherwise).
        if len(shifts) == 1:
            # One offset for every section (GNU-EFI: RVA == ELF address, so it is the base).
            shift = shifts.pop()
            gdb.execute(f"add-symbol-file {LOADER_SO} -readnow -o {shift:#x}", to_string=True)
            how = f"every PE section at its ELF address + {shift:#x}: add-symbol-file -o {shift:#x}"
        else:
            # Sections moved by different amounts: place each one. GDB relocates
            # DWARF by .text alone, so line numbers may be off outside .text.
            gdb.execute(f"add-symbol-file {LOADER_SO} -readnow {addresses['.text']:#x}" + "".join(
                f" -s {name} {address:#x}" for name, address in addresses.items() if name != ".text"), to_string=True)
            how = "PE RVAs differ from the ELF addresses: each section placed by its RVA"
        gdb.write(f"kloader: {LOADER_SO.relative_to(REPO_ROOT)} at image base {base:#x} ({source}): "
                  + " ".join(f"{n}={addresses[n]:#x}" for n in (".text", ".data") if n in addresses) + "\n")
        gdb.write(f"kloader: {how}\n")
        gdb.write("kloader: " + self.check_memory(base, efi_bytes, pe) + "\n")

    @staticmethod
    def check_memory(base: int, efi_bytes: bytes, pe: kmodel.PeImage) -> str:
        """Compare the PE headers in guest memory with build/loader/BOOTX64.EFI."""
        try:
            with PHYSICAL.reader() as read:
                header = read(base, kmodel.pe_header_bytes(efi_bytes))
        except gdb.GdbError as error:
            return f"cannot read the image in memory ({error})"
        if header[:2] != b"MZ":
            return f"no image at {base:#x} yet (the firmware has not loaded it, or the base is wrong)"
        try:
            loaded = kmodel.pe_image(header)
        except (ValueError, IndexError) as error:
            return f"WARNING: {base:#x} holds no valid PE image ({error})"
        if (loaded.size_of_image, loaded.time_date_stamp, loaded.sections) != (
                pe.size_of_image, pe.time_date_stamp, pe.sections):
            return f"WARNING: the image at {base:#x} is not build/loader/BOOTX64.EFI (stale build?)"
        return f"the image at {base:#x} matches build/loader/BOOTX64.EFI"


# ---------------------------------------------------------------------------
# kvmas
# ---------------------------------------------------------------------------

# RegionKind and region_rights (common/mm/user_regions.h).
REGION_KINDS = {0: "anonymous", 1: "stack", 2: "file"}
PROCESS_MEMORY = "'mm::(anonymous namespace)::g_memory'"  # common/mm/kernel/process_memory.cpp


def rights_text(rights: int) -> str:
    return ("r" if rights & 1 else "-") + ("w" if rights & 2 else "-") + ("x" if rights & 4 else "-")


class KvmasCommand(gdb.Command):
    """List a process's memory regions (chapter 13 on): kvmas [MEMORY]

MEMORY is an expression for a ProcessMemory* (common/mm/kernel/process_memory.h),
`&m` in a function that has one; without it, the running process's
(g_memory in process_memory.cpp). Each region is printed with its rights, its
kind (file regions with their module offset and file bytes, the stack with its
grow limit) and the pages its process's own tables map in it now: walked from
the process's PML4, not CR3, so it works after the kernel switched back.
From chapter 14, a region with pages shared copy-on-write also says how many
(cow=N: read-only now, copied at the first write)."""

    def __init__(self):
        super().__init__("kvmas", gdb.COMMAND_DATA)

    def invoke(self, argument: str, from_tty: bool) -> None:
        try:
            pointer = gdb.parse_and_eval(argument.strip() or PROCESS_MEMORY)
        except gdb.error as error:
            raise gdb.GdbError(f"kvmas: {error} (a chapter 13 kernel, with symbols?)") from None
        if int(pointer) == 0:
            raise gdb.GdbError("kvmas: no process is running (g_memory is null); pass a ProcessMemory*")
        memory = pointer.dereference()
        regions = memory["regions"]
        count = int(regions["count_"])
        pml4 = int(memory["space"]["pml4_"]["value_"])
        _, cr4, efer = paging_registers()
        with PHYSICAL.reader() as read:
            leaves = kmodel.all_leaves(pml4, read, cr4, efer, lower_half_only=True)
        out = [f"kvmas memory={int(pointer):#x} pml4={pml4:#x} regions={count} "
               f"mapped-pages={len(leaves)} (physical reads: {PhysicalMemory.method})"]
        for i in range(count):
            r = regions["regions_"][i]
            start, end, kind = int(r["start"]), int(r["end"]), REGION_KINDS.get(int(r["kind"]), "?")
            mapped = [leaf for leaf in leaves if start <= leaf.va < end]
            extra = ""
            if kind == "file":
                extra = f" file-offset={int(r['file_offset']):#x} file-bytes={int(r['file_bytes'])}"
            elif kind == "stack":
                extra = f" grow-limit={int(r['grow_limit']):#x}"
            cow = sum("copy-on-write" in leaf.marks for leaf in mapped)
            if cow:  # chapter 14: pages shared with another process until written
                extra += f" cow={cow}"
            out.append(f"  {start:#014x}-{end:#014x} {kmodel.size_text(end - start):>8} {rights_text(int(r['rights']))} "
                       f"{kind:<9} mapped={len(mapped)}{extra}")
        gdb.write("\n".join(out) + "\n")


# ---------------------------------------------------------------------------
# kproc
# ---------------------------------------------------------------------------

TASK_TABLE = "'mm::(anonymous namespace)::g_tasks'"  # common/mm/kernel/scheduler.cpp
CURRENT_TASK = "'mm::(anonymous namespace)::g_current'"


def char_array(value) -> str:
    """A char[N] member as text, up to its first NUL."""
    return bytes(int(value[i]) & 0xFF for i in range(value.type.strip_typedefs().range()[1] + 1)).split(
        b"\0", 1)[0].decode("ascii", "replace")


class KprocCommand(gdb.Command):
    """List the scheduler's processes (chapter 14 on): kproc

One line per slot of the scheduler's table (g_tasks in
common/mm/kernel/scheduler.cpp), in slot order: pid, parent (0: none, or an
orphan), state (ready, waiting, zombie), the PML4 of its address space, and
what its own page tables hold below the kernel half, walked from that PML4
(not CR3): pages (leaves over frames it owns, borrowed text left out), cow
(those read-only and copy-on-write) and shared (those whose frame another
task's tables map too: the count the frame's reference count should exceed
1 for). copied / taken-over are the copy-on-write faults it took; the running
task (g_current) is marked `running`. A zombie's space is already given back
(pml4=0x0)."""

    def __init__(self):
        super().__init__("kproc", gdb.COMMAND_DATA)

    def invoke(self, argument: str, from_tty: bool) -> None:
        try:
            table = gdb.parse_and_eval(TASK_TABLE)
            current = int(gdb.parse_and_eval(CURRENT_TASK))
        except gdb.error as error:
            raise gdb.GdbError(f"kproc: {error} (a chapter 14 kernel, with symbols?)") from None
        _, cr4, efer = paging_registers()
        tasks = []
        # The table is kernel data, read through virtual addresses: all of it
        # before the physical reads of the tables (gdb.Value reads lazily).
        for slot in range(table.type.strip_typedefs().range()[1] + 1):
            pointer = table[slot]
            if int(pointer) == 0:
                continue
            task = pointer.dereference()
            tasks.append(kmodel.TaskView(
                pid=int(task["process"]["pid"]), parent=int(task["parent"]),
                state=kmodel.TASK_STATES.get(int(task["state"]), "?"), pml4=int(task["space"]["pml4_"]["value_"]),
                copied=int(task["copied"]), taken_over=int(task["taken_over"]),
                name=char_array(task["process"]["name"]), running=int(pointer) == current))
        with PHYSICAL.reader() as read:
            for task in tasks:
                if task.pml4:
                    task.leaves = kmodel.all_leaves(task.pml4, read, cr4, efer, lower_half_only=True)
        gdb.write("\n".join(kmodel.format_tasks(tasks, PhysicalMemory.method)) + "\n")
CPUS_SYMBOL = "'mm::(anonymous namespace)::g_cpus'"      # common/mm/kernel/per_cpu.cpp
ONLINE_SYMBOL = "'mm::(anonymous namespace)::g_online'"  # common/mm/kernel/cpu_startup.cpp


class KcpusCommand(gdb.Command):
    """List the CPUs the kernel brought up (chapter 15 on): kcpus

One line per CPU in the online mask, from its PerCpu (common/mm/kernel/per_cpu.h):
its index and APIC ID, the PerCpu's address (the CPU's GS base), the top of the
stack it started on, whether it reached ap_entry and its idle loop, the work in
its mailbox, and its shootdown counters (IPIs handled, INVLPGs, full flushes).
GDB's own `info threads` lists the same CPUs as QEMU's vCPUs."""

    def __init__(self):
        super().__init__("kcpus", gdb.COMMAND_DATA)

    def invoke(self, argument: str, from_tty: bool) -> None:
        try:
            cpus = gdb.parse_and_eval(CPUS_SYMBOL)
            online = gdb.parse_and_eval(ONLINE_SYMBOL)
        except gdb.error as error:
            raise gdb.GdbError(f"kcpus: {error} (a chapter 15 kernel, with symbols?)") from None
        mask = int(online["mask"]["bits_"])
        out = [f"kcpus online={int(online['count'])} expected={int(online['expected'])} mask={mask:#x}"]
        for index in range(64):
            if not mask >> index & 1:
                continue
            c = cpus[index]
            work = int(c["work"])
            out.append(f"  cpu {index} apic-id={int(c['apic_id'])} gs={int(c.address):#x} "
                       f"stack-top={int(c['stack_top']):#x} entered={int(c['entered'])} online={int(c['online'])} "
                       f"work={'idle' if work == 0 else hex(work)} shootdowns={int(c['shootdowns_received'])} "
                       f"invlpg={int(c['pages_invalidated'])} full={int(c['full_flushes'])}")
        gdb.write("\n".join(out) + "\n")


KptCommand()
KmemmapCommand()
KlayoutCommand()
KloaderCommand()
KvmasCommand()
KprocCommand()
KcpusCommand()
