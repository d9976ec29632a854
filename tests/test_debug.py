"""`make debug` and the GDB helpers (scripts/gdb): two real boots under GDB.

Boot 1 (the ``first_boot`` fixture) is chapter 05 stopped after its CR3
switch: ``kpt`` walks the kernel's own tables. It also logs where OVMF loaded
BOOTX64.EFI, which is the same address for one loader build and one machine,
whatever the chapter.

Boot 2 (the ``session`` fixture) is `make debug LOADER=1`: the very script
`make debug` generates (harness.gdb), with the loader's symbols loaded at the
base boot 1 logged. It stops at ``efi_main``, then at kernel_main, runs every
helper once, and lets the kernel finish. Its checks compare what GDB shows
with what the loader logged (segments, ``loader.dump-map``, image base) and
with QEMU's own ``info tlb``.

Chapter 14's helpers (``kproc``, and the copy-on-write marks of ``kvmas`` and
``kpt``) are checked under GDB by the chapter's Try-it entry
(tests/test_try_it.py), which boots the session its README shows.

The pure half of the helpers (scripts/gdb/kmodel.py) is also checked without a
boot: against the C++ headers and against hand-built page tables.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys

import pytest

import harness
from harness import gdb as harness_gdb
from harness.gdb import gdb_script

sys.path.insert(0, str(harness.REPO_ROOT / "scripts" / "gdb"))
import kmodel  # noqa: E402

CHAPTER = "01-boot"
COMMAND_LINE = "loader.dump-map"
HANDOFF = "'kernel::(anonymous namespace)::g_handoff'"

# Marker -> GDB command, run in this order at kernel_main. A failing command
# stops GDB's script, so a missing marker names the command that failed.
SESSION_COMMANDS = {
    "bt": "bt",
    "rip": "print/x $rip",
    "kpt-text": "kpt &kernel_main",
    "kpt-rodata": "kpt __rodata_start",
    "kpt-data": f"kpt &{HANDOFF}",
    "kpt-identity": f"kpt {HANDOFF}",
    "kpt-guard": "kpt 0xffffffff80000000",
    "kmemmap": "kmemmap",
    "klayout": "klayout",
    "kloader": "kloader",
    "efi-main": "info line efi_main\ninfo symbol efi_main",
    "tlb": "monitor info tlb",
    "end": "continue",
}


def boot_under_gdb(tmp_dir, then: list[str], loader_image_base: int | None = None, chapter: str = CHAPTER,
                   cmdline: str = COMMAND_LINE):
    """Boot the chapter paused, run GDB in batch mode with the `make debug`
    script plus ``then``; return (boot result, GDB's stdout + stderr)."""
    return harness_gdb.boot_under_gdb(tmp_dir, chapter, cmdline, then, loader_image_base=loader_image_base)


class Session:
    def __init__(self, result, output: str):
        self.result, self.output = result, output
        self.sections = harness_gdb.output_sections(output)

    def __getitem__(self, marker: str) -> str:
        assert marker in self.sections, f"GDB never reached {marker!r}:\n{self.output}"
        return self.sections[marker]

    def segment(self, flags: str) -> harness.LogRecord:
        return next(r for r in self.result.records_for("loader") if r.event == "segment" and r.fields["flags"] == flags)


WINDOW_BASE = 0xFFFF_8000_0000_0000


@pytest.fixture(scope="module")
def first_boot(built, tmp_path_factory) -> Session:
    """Chapter 05, stopped after its CR3 switch, then in kernel text. At
    kernel_main, GDB turns CR4.PGE on, as some firmware leaves it: the switch
    must then drop global translations too, and leave PGE as it found it."""
    then = [
        "set $cr4 = $cr4 | 0x80",
        "hbreak mm::check_phys_window", "continue",
        "echo @@cr4\\n", "p/x $cr4",
        "echo @@kpt-window\\n", f"kpt {WINDOW_BASE + 0x20_0000:#x}",
        "echo @@kpt-text\\n", "kpt &kernel_main",
        "continue",
    ]
    result, output = boot_under_gdb(tmp_path_factory.mktemp("gdb"), then, chapter="05-paging", cmdline="")
    return Session(result, output)


# Run at efi_main, before the script goes on to kernel_main.
LOADER_COMMANDS = {"efi-bt": "bt 2", "efi-next": "next", "efi-pc": "info symbol $pc", "efi-end": "continue"}


@pytest.fixture(scope="module")
def session(first_boot, tmp_path_factory) -> Session:
    then = []
    for marker, commands in {**LOADER_COMMANDS, **SESSION_COMMANDS}.items():
        then += [f"echo @@{marker}\\n", *commands.split("\n")]
    base = harness.int_field(first_boot.result.record("loader", "start"), "image-base")
    result, output = boot_under_gdb(tmp_path_factory.mktemp("gdb"), then, loader_image_base=base)
    return Session(result, output)


def kpt_translation(text: str) -> dict[str, str]:
    """The last line of a kpt walk: va=… pa=… page=… access=…"""
    line = next(line for line in text.splitlines() if line.strip().startswith("va=") and " pa=" in line)
    return harness.parse_fields(line.strip())


def tlb_entry(tlb: str, va: int) -> tuple[int, int, str]:
    """QEMU's `info tlb` line for the page holding ``va``: (page va, pa, flags
    'XGPDACTUW', where X is NX and W writable)."""
    pages = []
    for line in tlb.splitlines():
        match = re.match(r"^([0-9a-f]+): ([0-9a-f]+) ([-XGPDACTUW]{9})$", line.strip())
        if match:
            page_va, pa, flags = int(match[1], 16), int(match[2], 16), match[3]
            pages.append((page_va, pa, flags))
    for page_va, pa, flags in pages:
        size = 2 * kmodel.MiB if flags[2] == "P" else 4096  # PSE column (1 GiB pages do not occur here)
        if page_va <= va < page_va + size:
            return page_va, pa, flags
    raise AssertionError(f"{va:#x} not in QEMU's info tlb")


# ---------------------------------------------------------------------------
# Boot 1, chapter 05: kpt through the kernel's own tables, phys window included
# ---------------------------------------------------------------------------

def test_kpt_on_the_phys_window_and_kernel_text_agrees_with_the_kernels_log(first_boot):
    """Stopped after chapter 05's CR3 switch: kpt walks the kernel's own tables."""
    session, result, output = first_boot, first_boot.result, first_boot.output
    assert result.outcome == "success", output[-2000:]

    window = kpt_translation(session["kpt-window"])
    run = next(r for r in result.records_for("paging")
               if r.event == "window run" and harness.int_field(r, "start") <= 0x20_0000 < harness.int_field(r, "end"))
    assert int(window["pa"], 16) == 0x20_0000
    assert window["page"] == "2MiB" and harness.int_field(run, "pages-2m") > 0  # 2 MiB-aligned inside a long run
    assert window["access"] == "RW", "the window is RW+NX"
    assert "NX" in session["kpt-window"]

    text = kpt_translation(session["kpt-text"])
    section = next(r for r in result.records_for("paging") if r.event == "map" and r.fields.get("section") == "text")
    va, pa = int(text["va"], 16), int(text["pa"], 16)
    assert pa - harness.int_field(section, "pa") == va - harness.int_field(section, "va")
    assert text["page"] == "4KiB" and text["access"] == "RX"


def test_global_pages_left_on_by_firmware_are_flushed_at_the_switch(first_boot):
    """A CR3 load keeps global translations; the switch toggles CR4.PGE
    (SDM Vol. 3A, 4.10.4.1) when it finds it on, and leaves it on."""
    switched = first_boot.result.record("paging", "switched")
    assert switched.fields["global-pages"] == "flushed", switched
    cr4 = int(first_boot["cr4"].split("=")[-1].strip(), 16)
    assert cr4 & 0x80, f"CR4.PGE is off after the switch: {cr4:#x}"


# ---------------------------------------------------------------------------
# Boot 2 at kernel_main
# ---------------------------------------------------------------------------


def test_gdb_stops_at_kernel_main_with_a_backtrace(session):
    out = session.output
    assert "Temporary breakpoint 2, kernel_main" in out, out  # 1 is efi_main
    assert "chapters/01-boot/kernel_main.cpp" in out  # source paths resolve
    backtrace = session["bt"].splitlines()
    assert backtrace[0].startswith("#0  kernel_main")
    assert "kernel_start" in backtrace[1] and "common/kernel/start.cpp" in backtrace[1]  # called from the runtime
    assert "_start" in backtrace[2]
    # $rip at the breakpoint is kernel_main's address in kernel.elf.
    symbols = subprocess.run(["nm", str(harness.chapter_kernel(CHAPTER))], capture_output=True, text=True).stdout
    kernel_main = next(int(line.split()[0], 16) for line in symbols.splitlines() if line.endswith(" _Z11kernel_mainRKN4boot11BootHandoffE"))
    assert f"0x{kernel_main:x}" in session["rip"]
    # After `continue`, the kernel finishes normally under the debugger.
    harness.assert_outcome(session.result, "success")


@pytest.mark.parametrize("marker, flags", [("kpt-text", "RX"), ("kpt-rodata", "R"), ("kpt-data", "RW")])
def test_kpt_translates_kernel_sections_as_the_loader_mapped_them(session, marker, flags):
    walk = session[marker]
    assert "physical reads: Qqemu.PhyMemMode" in walk  # not the identity-map fallback
    assert [line.split()[0] for line in walk.splitlines()[1:5]] == ["PML4[511]", "PDPT[510]", "PD[0]", f"PT[{line_index(walk)}]"]
    translation = kpt_translation(walk)
    va, pa = int(translation["va"], 16), int(translation["pa"], 16)
    segment = session.segment(flags)
    segment_va, segment_pa = harness.int_field(segment, "va"), harness.int_field(segment, "pa")
    assert segment_va <= va < segment_va + harness.int_field(segment, "memsz")
    assert pa == segment_pa + (va - segment_va)
    assert translation["page"] == "4KiB"
    assert translation["access"] == flags  # the loader's own notation
    # QEMU's view of the same page.
    page_va, tlb_pa, tlb_flags = tlb_entry(session["tlb"], va)
    assert tlb_pa == pa & ~0xFFF
    assert (tlb_flags[8] == "W") == ("W" in flags)
    assert (tlb_flags[0] == "X") == ("X" not in flags)  # QEMU's X column is NX


def line_index(walk: str) -> int:
    va = int(kpt_translation(walk)["va"], 16)
    return (va >> 12) & 511


def test_kpt_on_identity_mapped_ram(session):
    walk = session["kpt-identity"]
    translation = kpt_translation(walk)
    handoff = harness.int_field(session.result.record("loader", "jump to kernel"), "handoff")
    assert int(translation["va"], 16) == handoff
    assert int(translation["pa"], 16) == handoff  # identity: PA == VA
    assert translation["page"] == "2MiB"  # the bootstrap identity map uses 2 MiB pages, RW, not executable
    assert translation["access"] == "RW"
    assert "PS" in walk.splitlines()[3]
    page_va, tlb_pa, tlb_flags = tlb_entry(session["tlb"], handoff)
    assert tlb_pa == handoff & ~(2 * kmodel.MiB - 1) and tlb_flags[2] == "P" and tlb_flags[8] == "W" and tlb_flags[0] == "X"


def test_kpt_reports_the_guard_page_below_the_image_as_not_mapped(session):
    walk = session["kpt-guard"]
    assert "PT[0]" in walk and "not present" in walk
    assert "va=0xffffffff80000000 not mapped: PT[0] not present" in walk


def test_kmemmap_matches_the_loader_dump(session):
    text = session["kmemmap"]
    rows = []
    for line in text.splitlines():
        match = re.match(r"^\s+(\d+)\s+([a-z-]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\d+)\s", line)
        if match:
            rows.append((match[2], int(match[3], 16), int(match[4], 16)))
    expected = harness.loader_memory_map(session.result.records)
    assert expected, "the loader printed no map (cmdline loader.dump-map)"
    assert rows == expected
    header = harness.parse_fields(text.splitlines()[0])
    exited = session.result.record("loader", "boot services exited")
    assert int(header["entries"]) == harness.int_field(exited, "map-entries")
    assert header["descriptor-size"] == exited.fields["descriptor-size"]
    assert " kernel-image " in text and " boot-page-tables " in text  # the loader's own types, by name


def test_klayout_shows_image_sections_guard_and_identity_map(session):
    text = session["klayout"]
    regions = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ") and not line.startswith("  0x")}
    assert "not mapped" in regions["guard"]
    for name, flags in (("text", "RX"), ("rodata", "R"), ("data+bss", "RW"), ("boot-stack", "RW")):
        assert f"access={flags} " in regions[name], regions[name]
    text_pa = int(re.search(r"pa=(0x[0-9a-f]+)", regions["text"])[1], 16)
    assert text_pa == harness.int_field(session.segment("RX"), "pa")
    identity = harness.size_field(session.result.record("loader", "bootstrap tables"), "identity")
    runs = [line for line in text.splitlines() if line.startswith("  0x")]
    # Page 0 unmapped; the identity map cut where the handover trampoline (RX) and the kernel's frames (R) sit.
    identity_runs = [run for run in runs if "identity" in run]
    assert identity_runs[0].split()[0].startswith(f"0x{4096:016x}-")
    assert identity_runs[-1].split()[0].endswith(f"-0x{identity:016x}")
    assert "access=RW " in identity_runs[-1] and "pages=2MiBx" in identity_runs[-1]
    assert any("access=RX " in run for run in identity_runs)
    # The kernel image: one run per permission, at the loader's physical addresses.
    for flags in ("RX", "R", "RW"):
        segment = session.segment(flags)
        assert any(run.startswith(f"  0x{harness.int_field(segment, 'va'):016x}-") and f"pa={segment.fields['pa']} access={flags} " in run
                   and run.endswith(" kernel image") for run in runs), runs


def test_kloader_resolves_efi_main_in_the_loader_source(session):
    text = session["kloader"]
    base = harness.int_field(session.result.record("loader", "start"), "image-base")
    assert f"at image base {base:#x} (handoff.loader_image_base via g_handoff)" in text
    assert f"add-symbol-file -o {base:#x}" in text  # GNU-EFI: PE RVAs are the ELF addresses
    assert "matches build/loader/BOOTX64.EFI" in text
    efi_main = session["efi-main"]
    assert 'of "common/boot/main.cpp"' in efi_main, efi_main
    assert "efi_main in section .text of" in efi_main and "build/loader/loader.so" in efi_main
    offset = int(re.search(r"starts at address (0x[0-9a-f]+)", efi_main)[1], 16) - base
    nm = subprocess.run(["nm", str(harness.BUILD_DIR / "loader" / "loader.so")], capture_output=True, text=True).stdout
    assert offset == next(int(line.split()[0], 16) for line in nm.splitlines() if line.endswith(" efi_main"))


# ---------------------------------------------------------------------------
# Boot 2 in the loader, before kernel_main
# ---------------------------------------------------------------------------


def test_gdb_stops_at_efi_main_with_the_base_a_first_boot_logged(first_boot, session):
    """OVMF loads BOOTX64.EFI at one address for one build and one machine, so
    the base boot 1 logged is where boot 2's efi_main runs (make debug LOADER=1)."""
    base = harness.int_field(first_boot.result.record("loader", "start"), "image-base")
    output = session.output
    assert f"kloader: build/loader/loader.so at image base {base:#x} ($loader_image_base" in output
    assert "Breakpoint 1, efi_main (image=" in output, output
    assert "at common/boot/main.cpp:" in output
    assert "crt0-efi-x86_64.S" in session["efi-bt"].splitlines()[1]  # called by GNU-EFI's entry code
    assert "InitializeLib" in session["efi-next"]  # stepped one source line
    assert "efi_main + " in session["efi-pc"] and "loader.so" in session["efi-pc"]
    assert session.result.record("loader", "start").fields["image-base"] == f"{base:#x}"


# ---------------------------------------------------------------------------
# No boot: kmodel against the headers and hand-built tables
# ---------------------------------------------------------------------------


def test_software_marks_and_task_states_match_the_kernel():
    user = (harness.REPO_ROOT / "common/mm/user_address_space.h").read_text()
    cow = (harness.REPO_ROOT / "common/mm/copy_on_write.h").read_text()
    scheduler = (harness.REPO_ROOT / "common/mm/kernel/scheduler.cpp").read_text()
    header = (harness.REPO_ROOT / "common/mm/kernel/scheduler.h").read_text()
    assert re.search(r"kBorrowed = 1ull << (\d+);", user)[1] == str(kmodel.BORROWED.bit_length() - 1)
    assert re.search(r"kCopyOnWrite = 1ull << (\d+);", cow)[1] == str(kmodel.COPY_ON_WRITE.bit_length() - 1)
    order = re.findall(r"^\s+(k\w+),", header.split("enum class TaskState", 1)[1].split("};", 1)[0], re.M)
    words = dict(re.findall(r'case TaskState::(k\w+): return "(\w+)";', scheduler))
    assert {index: words[name] for index, name in enumerate(order)} == kmodel.TASK_STATES
    m = kmodel
    assert m.software_marks(0x5000 | m.P | m.US | m.NX | m.COPY_ON_WRITE) == ["copy-on-write"]
    assert m.software_marks(0x5000 | m.P | m.US | m.BORROWED) == ["borrowed"]
    assert m.software_marks(0x5000 | m.P | m.RW | m.COPY_ON_WRITE) == []  # a kernel leaf: the bit means nothing here


def test_kproc_counts_what_the_tasks_tables_share():
    m = kmodel

    def leaf(va, pa, *marks):
        return m.Leaf(va, pa, 4096, False, False, True, 0, marks)

    text = leaf(0x40_0000, 0x9000, "borrowed")
    tasks = [
        m.TaskView(1, 0, "ready", 0x1000, 1, 0, "fork-cow", running=True,
                   leaves=[text, leaf(0x60_0000, 0xA000, "copy-on-write"), leaf(0x60_1000, 0xB000)]),
        m.TaskView(2, 1, "ready", 0x2000, 0, 0, "fork-cow",
                   leaves=[text, leaf(0x60_0000, 0xA000, "copy-on-write"), leaf(0x60_1000, 0xC000)]),
        m.TaskView(3, 1, "zombie", 0, 0, 0, "fork-cow"),
    ]
    assert m.share_counts(tasks) == {1: (2, 1, 1), 2: (2, 1, 1), 3: (0, 0, 0)}  # text is nobody's, 0xB000/0xC000 copies
    lines = m.format_tasks(tasks, "test")
    assert lines[0] == "kproc tasks=3 current=1 (physical reads: test)"
    assert lines[1] == ("  pid=1 parent=0 state=ready pml4=0x1000 pages=2 cow=1 shared=1 copied=1 taken-over=0 "
                        "name=fork-cow running")
    assert lines[3].endswith("pml4=0x0 pages=0 cow=0 shared=0 copied=0 taken-over=0 name=fork-cow")

    mem = FakeMemory()  # a user leaf's marks come through the walk; the kernel half stays out of a process's
    pml4, pdpt, pd, pt = (mem.table(a) for a in (0x1000, 0x2000, 0x3000, 0x4000))
    mem.set(pml4, 0, pdpt | m.P | m.RW | m.US)
    mem.set(pdpt, 0, pd | m.P | m.RW | m.US)
    mem.set(pd, 3, pt | m.P | m.RW | m.US)
    mem.set(pt, 0, 0x9000 | m.P | m.US | m.NX | m.COPY_ON_WRITE)
    mem.set(pml4, 511, pdpt | m.P | m.RW)
    walked = m.all_leaves(pml4, mem.read, lower_half_only=True)
    assert [(l.va, l.pa, l.marks) for l in walked] == [(0x60_0000, 0x9000, ("copy-on-write",))]
    assert len(m.all_leaves(pml4, mem.read)) == 2


def test_handoff_layout_matches_handoff_h():
    header = (harness.REPO_ROOT / "common/include/boot/handoff.h").read_text()
    pinned = {m[1]: int(m[2]) for m in re.finditer(r"offsetof\(BootHandoff, (\w+)\) == (\d+)", header)}
    assert len(pinned) >= 10
    offsets = kmodel.handoff_offsets()
    assert {name: offsets[name] for name in pinned} == pinned
    assert re.search(r"sizeof\(BootHandoff\) == 160 \+ kCommandLineCapacity \+ kMaxBootModules \* sizeof\(BootModule\) \+ sizeof\(PixelMasks\)", header)
    assert re.search(r"static_assert\(sizeof\(BootModule\) == 48\)", header)
    assert kmodel.HANDOFF_SIZE == 160 + kmodel.COMMAND_LINE_CAPACITY + kmodel.MAX_BOOT_MODULES * kmodel.BOOT_MODULE_SIZE + 16


def test_memory_type_names_match_the_kernel():
    header = (harness.REPO_ROOT / "common/include/boot/uefi_memory.h").read_text()
    values = {m[1]: int(m[2], 0) for m in re.finditer(r"^\s+(k\w+) = (0x[0-9a-fA-F]+|\d+),", header, re.M)}
    names = {values[m[1]]: m[2] for m in re.finditer(r'case EfiMemoryType::(k\w+): return "([a-z-]+)";', header)}
    assert len(names) == 21
    assert names == kmodel.MEMORY_TYPE_NAMES
    assert kmodel.memory_type_name(0x80000099) == "os-defined" and kmodel.memory_type_name(99) == "invalid"


class FakeMemory:
    """Physical memory made of 4 KiB tables, for walks without a machine."""

    def __init__(self):
        self.pages: dict[int, bytearray] = {}

    def table(self, address: int) -> int:
        self.pages.setdefault(address, bytearray(4096))
        return address

    def set(self, table: int, index: int, entry: int) -> None:
        struct.pack_into("<Q", self.pages[table], index * 8, entry)

    def read(self, address: int, length: int) -> bytes:
        page = self.pages.get(address & ~0xFFF, bytearray(4096))
        return bytes(page[address & 0xFFF:(address & 0xFFF) + length])


def test_walks_handle_1gib_2mib_4kib_pages_and_holes():
    m = kmodel
    mem = FakeMemory()
    pml4, pdpt, pd, pt = (mem.table(a) for a in (0x1000, 0x2000, 0x3000, 0x4000))
    mem.set(pml4, 0, pdpt | m.P | m.RW)
    mem.set(pdpt, 0, pd | m.P | m.RW)
    mem.set(pdpt, 1, 0x4000_0000 | m.P | m.RW | m.PS | m.PAT_LARGE | m.NX)  # 1 GiB at 1 GiB, PAT set
    mem.set(pd, 0, pt | m.P | m.RW | m.NX)  # NX above: the 4 KiB page under it cannot execute
    mem.set(pd, 1, 0x20_0000 | m.P | m.PS)  # 2 MiB, read-only, executable
    mem.set(pt, 1, 0x9000 | m.P | m.RW)
    mem.set(pml4, 511, 0)  # upper half absent

    w = m.walk(0x1234, pml4, mem.read)
    assert (w.pa, w.page_size, w.access) == (0x9234, 4096, "RW")
    assert [s.level.name for s in w.steps] == ["PML4", "PDPT", "PD", "PT"] and [s.index for s in w.steps] == [0, 0, 0, 1]
    w = m.walk(0x2F_FFFF, pml4, mem.read)
    assert (w.pa, w.page_size, w.access) == (0x2F_FFFF, 2 * m.MiB, "RX")
    assert m.entry_flags(w.steps[-1].entry, True, w.steps[-1].level) == "P|PS"
    w = m.walk(0x4000_0000 + 0x1234_5678, pml4, mem.read)
    assert (w.pa, w.page_size, w.access) == (0x5234_5678, m.GiB, "RW")  # PAT bit 12 is not address
    assert "PAT" in m.entry_flags(w.steps[-1].entry, True, w.steps[-1].level)
    w = m.walk(0x0, pml4, mem.read)
    assert w.pa is None and w.problem == "PT[0] not present"
    w = m.walk(0xFFFF_FFFF_8000_0000, pml4, mem.read)
    assert w.pa is None and w.problem == "PML4[511] not present"
    assert m.walk(0x0000_8000_0000_0000, pml4, mem.read).problem.startswith("not canonical")
    w = m.walk(0x1234, pml4, mem.read, efer=0)  # without EFER.NXE the NX bit does not apply
    assert w.access == "RWX"

    leaves = m.all_leaves(pml4, mem.read)
    assert [(l.va, l.pa, l.size, l.access) for l in leaves] == [
        (0x1000, 0x9000, 4096, "RW"), (0x20_0000, 0x20_0000, 2 * m.MiB, "RX"), (0x4000_0000, 0x4000_0000, m.GiB, "RW")]
    runs = m.coalesce(leaves)
    assert len(runs) == 3 and runs[2].describe_pages() == "1GiBx1"


def test_loader_sections_sit_at_their_elf_addresses():
    loader = harness.BUILD_DIR / "loader"
    if not (loader / "loader.so").is_file():
        pytest.fail("build/loader/loader.so missing: run make")
    pe = kmodel.pe_image((loader / "BOOTX64.EFI").read_bytes())
    elf = kmodel.elf_sections((loader / "loader.so").read_bytes())
    assert pe.image_base == 0
    assert ".text" in pe.sections and ".data" in pe.sections
    for name, (rva, _size) in pe.sections.items():
        assert elf[name][0] == rva, name  # objcopy kept the link addresses as RVAs
    addresses = kmodel.loader_section_addresses(elf, pe, 0x0DE7_3000)
    assert addresses[".text"] == 0x0DE7_3000 + elf[".text"][0]


def test_make_debug_script_with_a_loader_base():
    script = gdb_script(CHAPTER, 1234, loader_image_base=0xDE73000).splitlines()
    assert f"source {harness.REPO_ROOT}/scripts/gdb/kgdb.py" in script
    assert script.index("set $loader_image_base = 0xde73000") < script.index("kloader") < script.index("hbreak efi_main")
    assert script.index("hbreak efi_main") < script.index("thbreak kernel_main") < script.index("continue")
    assert script.index("target remote 127.0.0.1:1234") < script.index("kloader")
