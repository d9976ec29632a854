"""Every "Try it" command of every chapter, run, with the output its text promises.

A chapter's `## Try it` section shows commands (`make run CH=… MEM=… CPU=…
MACHINE=… CMDLINE=…`, `make debug CH=…` followed by GDB commands) and says what
the reader will see. TRY_IT below holds, per command exactly as the README
writes it, the check of that promise on what the boot printed (and, for
`make debug`, on what GDB printed for the very commands the text names).

Two rules keep the text and this file together: every command in a Try-it
section has an entry here and every entry is in its README, and every GDB
command an entry types appears, in backticks, in that README's Try-it section.

A `make run` boot is booted with the same configuration `make run` uses
(harness.BootConfig, as tests/run_chapter.py builds it); where the book step
of this `make test` booted it already, its log is read back instead.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Callable

import pytest

import harness
from harness import asked_outcome, find_record, int_field
from harness import gdb as harness_gdb

REPO = harness.REPO_ROOT


@dataclass
class Seen:
    """What a Try-it command showed: the boot's records, and GDB's output."""
    result: harness.BootResult
    gdb: str = ""

    def line(self, subsystem: str, prefix: str) -> harness.LogRecord:
        record = find_record(self.result.records, subsystem, prefix)
        assert record is not None, f"no [{subsystem}] {prefix!r} line:\n{self.result.tail()}"
        return record

    def lines(self, subsystem: str, prefix: str) -> list[harness.LogRecord]:
        return [r for r in self.result.records_for(subsystem) if r.message.startswith(prefix)]

    def has(self, pattern: str) -> bool:
        return any(re.search(pattern, str(r)) for r in self.result.records)

    def gdb_after(self, marker: str) -> str:
        """GDB's output for the commands after ``echo @@marker``."""
        chunks = harness_gdb.output_sections(self.gdb)
        assert marker in chunks, f"GDB never reached {marker!r}:\n{self.gdb[-3000:]}"
        return chunks[marker]


@dataclass
class TryIt:
    chapter: str
    check: Callable[[Seen], None]
    #: For `make debug`: the GDB commands the text tells the reader to type,
    #: as (marker, command) pairs; the marker names its output in Seen.gdb_after.
    gdb: list[tuple[str, str]] = field(default_factory=list)


def kpt_walk(text: str) -> dict[str, str]:
    """The result line of a `kpt` walk: va=… pa=… page=… access=…, or `not mapped …`."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("va=") and " pa=" in line:
            return harness.parse_fields(line)
    return {"not-mapped": next((line for line in text.splitlines() if "not" in line), text)}


def register(text: str, name: str) -> int:
    """`info registers cr3` -> the value: `cr3   0xe260000   [ PDBR=… ]`."""
    match = re.search(rf"^{name}\s+(0x[0-9a-f]+)", text, re.M)
    assert match, f"no {name} in:\n{text}"
    return int(match[1], 16)


def gdb_value(text: str) -> int:
    """`p/x …` -> the value of `$1 = 0x30`."""
    match = re.search(r"\$\d+ = (0x[0-9a-f]+)", text)
    assert match, f"no value in:\n{text}"
    return int(match[1], 16)


# ---- the promises, chapter by chapter ---------------------------------------------------


def dump_map_has_loader_objects(seen: Seen) -> None:
    dumped = {r.fields["type"]: r for r in seen.result.records_for("loader") if r.event.startswith("map")}
    for kind in ("kernel-image", "boot-handoff", "boot-page-tables", "boot-stack"):
        assert kind in dumped, f"loader.dump-map shows no {kind} descriptor"
    kernel = int_field(seen.line("handoff", "kernel"), "pa")
    assert int_field(dumped["kernel-image"], "start") == kernel, "the kernel-image descriptor is where the handoff says"


def page_fault_panics(seen: Seen) -> None:
    panic = seen.result.records[-1]
    assert panic.level == "PANIC" and panic.fields.get("vector") == "14", panic
    assert "cr2" in panic.fields and "rip" in panic.fields


def left_five_level_paging(seen: Seen) -> None:
    assert seen.line("loader", "imitating 5-level firmware").fields["cr4-la57"] == "yes"
    leaving = seen.line("loader", "leaving 5-level paging")
    assert leaving.fields["pml4"] == seen.line("loader", "bootstrap tables").fields["pml4"]
    assert seen.line("cpu", "state").fields["la57"] == "no"
    assert seen.result.records[-1].event == "ready"


def cr3_is_the_loaders_pml4(seen: Seen) -> None:
    pml4 = int_field(seen.line("loader", "bootstrap tables"), "pml4")
    assert register(seen.gdb_after("cr3"), "cr3") == pml4
    first = seen.gdb_after("pml4").strip().splitlines()[0]
    assert first.startswith(f"{pml4:#x}:"), first
    assert int(first.split()[1], 16) & 1, "PML4[0] (the identity map) is present"


def ram_above_4g(seen: Seen) -> None:
    above = [r for r in seen.lines("memmap", "descriptor") if int_field(r, "start") == 0x1_0000_0000]
    assert above, "no descriptor starts at 0x100000000"
    starts = [int_field(r, "start") for r in seen.lines("memmap", "descriptor")]
    assert starts != sorted(starts), "the map came sorted: the README says it is not"
    ranges = [r for r in seen.lines("memmap", "range") if int_field(r, "start") == 0x1_0000_0000]
    assert ranges and ranges[0].fields["kind"] == "usable"


def corrupt_overlap_rejected(seen: Seen) -> None:
    errors = [r for r in seen.result.records if r.level == "ERROR"]
    assert len(errors) == 1 and "rule" in errors[0].fields, errors


def descriptor_size_in_gdb(seen: Seen) -> None:
    assert gdb_value(seen.gdb_after("size")) == int_field(seen.line("memmap", "handoff valid"), "descriptor-size")


#: What UEFI lets the OS use once boot services have exited (UEFI 2.10, 7.2.1),
#: but for loader code, which the kernel keeps (it holds the handover trampoline).
FREE_AFTER_EXIT = {"conventional", "boot-code", "boot-data", "loader-data"}


def exhaustion_matches_the_dump(seen: Seen) -> None:
    dumped = [r for r in seen.result.records_for("loader") if r.event == "map"]
    free = sum(int(r.fields["pages"]) for r in dumped
               if r.fields["type"] in FREE_AFTER_EXIT and int_field(r, "start") >= 0x100000)
    assert int_field(seen.line("frames", "exhausted"), "handed-out") == free, "not the dump's free memory"
    reserve = seen.line("frames", "reserve after exhaustion")
    assert reserve.fields["page-table-frames"] == reserve.fields["reserve-capacity"]


def frames_go_up_by_4k(seen: Seen) -> None:
    first, second = gdb_value(seen.gdb_after("frame-1")), gdb_value(seen.gdb_after("frame-2"))
    assert second - first == 4096, (hex(first), hex(second))


def reserved_splits_a_run(seen: Seen) -> bool:
    """The firmware's reserved range sits inside RAM, so RAM on both sides is a run of its own."""
    ranges = seen.lines("memmap", "range")
    return any(a.fields["class"] != "reserved" and b.fields["class"] == "reserved" and c.fields["class"] != "reserved"
               and int_field(a, "end") == int_field(b, "start") and int_field(b, "end") == int_field(c, "start")
               for a, b, c in zip(ranges, ranges[1:], ranges[2:]))


def no_1g_at_256m(seen: Seen) -> None:
    phase = seen.line("paging", "phase identity_map_low_memory")
    assert phase.fields["pages-1g"] == "0" and phase.fields["runs"] == "3"
    assert reserved_splits_a_run(seen)


def without_nx(seen: Seen) -> None:
    assert seen.has(r"^\[WARN  paging\] no NX")
    flags = [r.fields["flags"] for r in seen.result.records if "flags" in r.fields and r.subsystem == "paging"]
    assert flags and not any("NX" in f for f in flags), flags


def cr3_before_and_after_switch(seen: Seen) -> None:
    assert register(seen.gdb_after("before"), "cr3") == int_field(seen.line("loader", "bootstrap tables"), "pml4")
    assert register(seen.gdb_after("after"), "cr3") == int_field(seen.line("paging", "switched"), "cr3")


def qemu64_trades_1g_for_2m(seen: Seen) -> None:
    window = seen.line("paging", "phase map_phys_offset_regions")
    with_1g = harness.boot(harness.BootConfig("05-paging", memory="8G", cmdline=""))
    window_1g = find_record(with_1g.records, "paging", "phase map_phys_offset_regions")
    assert int(window_1g.fields["pages-1g"]) > 0, "-cpu max at 8 GiB should use 1 GiB pages"
    assert window.fields["pages-1g"] == "0"
    assert int(window.fields["pages-2m"]) == int(window_1g.fields["pages-2m"]) + 512 * int(window_1g.fields["pages-1g"])


def window_three_runs_no_1g(seen: Seen) -> None:
    window = seen.line("paging", "phase map_phys_offset_regions")
    assert window.fields["runs"] == "3" and window.fields["pages-1g"] == "0"
    assert reserved_splits_a_run(seen)


def window_with_1g_pages(seen: Seen) -> None:
    assert int(seen.line("paging", "phase map_phys_offset_regions").fields["pages-1g"]) > 0


def same_frame_through_both(seen: Seen) -> None:
    window, identity = kpt_walk(seen.gdb_after("window")), kpt_walk(seen.gdb_after("identity"))
    assert window.get("pa") == identity.get("pa") == "0x100000", (window, identity)


def screendump_pattern(seen: Seen) -> None:
    from harness.inspections import screen_ppm
    data = screen_ppm(seen.result)
    magic, dims, _, pixels = data.split(b"\n", 3)
    width, height = map(int, dims.split())
    bars = [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
            (255, 0, 255)]  # black, white, red, green, blue, yellow, cyan, magenta
    row = height // 2
    seen_bars = [tuple(pixels[3 * (row * width + (2 * i + 1) * width // 16):][:3]) for i in range(8)]
    assert magic == b"P6" and seen_bars == bars, seen_bars


def madt_checksum(seen: Seen) -> None:
    assert seen.line("acpi", "tables rejected").fields["field"] == "madt.checksum"


def three_tables_in_turn(seen: Seen) -> None:
    fields = [r.fields["field"] for r in seen.lines("acpi", "tables rejected")]
    assert fields == ["xsdt.checksum", "madt.checksum", "hpet.checksum"], fields


def without_hpet(seen: Seen) -> None:
    seen.line("mmio", "hpet absent")
    assert seen.line("paging", "phase map_mmio_devices").fields["devices"] == "2"
    assert seen.result.records[-1].event == "ready"


def two_stale_reads(seen: Seen) -> None:
    reads = seen.lines("tlb", "stale read")
    assert [(r.fields["flushed"], r.fields["stale"]) for r in reads] == [("no", "yes"), ("yes", "no")], reads


def window_without_nx(seen: Seen) -> None:
    assert seen.line("paging", "phase create_temporary_window").fields["flags"] == "P|RW"
    assert seen.result.outcome == "success"


def tables_say_b_while_the_read_says_a(seen: Seen) -> None:
    frames = seen.line("tlb", "frames")
    a, b = int_field(frames, "a"), int_field(frames, "b")
    slot = int_field(seen.line("tlb", "window idle"), "va")

    def slot_frame(tlb: str) -> int:
        for line in tlb.splitlines():
            match = re.match(r"^([0-9a-f]+): ([0-9a-f]+) ", line.strip())
            if match and int(match[1], 16) == slot:
                return int(match[2], 16)
        raise AssertionError(f"the slot {slot:#x} is not in info tlb")

    assert slot_frame(seen.gdb_after("tlb-before")) == a
    assert slot_frame(seen.gdb_after("tlb-after")) == b
    first = seen.lines("tlb", "stale read")[0]
    assert first.fields["stale"] == "yes" and int_field(first, "got") == int_field(frames, "value-a")


def remap_offset_rejected(seen: Seen) -> None:
    rejection = [r for r in seen.result.records if r.level == "ERROR"][0]
    assert "byte" in str(rejection) or "offset" in str(rejection), rejection


def identity_gone_window_stays(seen: Seen) -> None:
    assert "pa" not in kpt_walk(seen.gdb_after("low")), seen.gdb_after("low")
    assert kpt_walk(seen.gdb_after("window")).get("pa") == "0x1000"


def wx_four_findings(seen: Seen) -> None:
    rules = [r.fields["rule"] for r in seen.result.records if r.level == "ERROR" and "rule" in r.fields]
    assert len(rules) == 4 and any("writable and executable" in rule for rule in rules), rules
    assert any("writable through one address and executable through another" in rule for rule in rules), rules


def every_bad_mapping(seen: Seen) -> None:
    swept = seen.line("verify", "every bad mapping tried")
    assert swept.fields["kinds"] == "4" and swept.fields["accepted"] == "0"
    in_use = {r.fields["frames-in-use"] for r in seen.lines("verify", "bad mapping undone")}
    assert len(in_use) == 1, f"frames in use changed between kinds: {in_use}"


def guard_below_image(seen: Seen) -> None:
    assert "0xffffffff80001000" in seen.gdb_after("layout")
    assert "pa" not in kpt_walk(seen.gdb_after("guard"))


def stack_overflow_report(seen: Seen) -> None:
    report = seen.line("fault", "page fault")
    assert report.fields["cause"] == "guard-page" and report.fields["region"] == "guard-boot-stack", report
    # `addr2line -f -C -e build/10-page-faults/kernel.elf <rip>`, as the text says.
    where = subprocess.run(["addr2line", "-f", "-C", "-e", str(harness.chapter_kernel("10-page-faults")),
                            report.fields["rip"]], capture_output=True, text=True, check=True).stdout.split("\n")
    assert "recurse" in where[0] and "faults_on_request.cpp" in where[1], where


def tables_as_the_cpu_lines_say(seen: Seen) -> None:
    registers = seen.gdb_after("registers")
    gdt = int_field(seen.line("cpu", "gdt"), "base")
    idt = int_field(seen.line("cpu", "idt"), "base")
    assert re.search(rf"GDT=\s+{gdt:016x}", registers), registers
    assert re.search(rf"IDT=\s+{idt:016x}", registers), registers


def heap_guard_reported(seen: Seen) -> None:
    report = seen.line("fault", "page fault")
    guard = int_field(seen.line("paging", "phase create_heap"), "guard")
    assert report.fields["region"] == "guard-heap" and int_field(report, "address") == guard, report
    assert seen.line("fault", "frame").fields["handler-stack"] == "pf-ist"


def bitmap_at_8g(seen: Seen) -> None:
    handover = seen.line("frames", "handover")
    frames = int_field(handover, "frames")
    assert int_field(handover, "bitmap-frames") == -(-frames // (8 * 4096)) == 64


def every_program_ends_and_gives_its_frames_back(seen: Seen) -> None:
    exits = seen.lines("user", "exit")
    assert len(exits) == len(seen.lines("user", "start")) == 10
    assert [e for e in exits if e.fields["name"] == "hello"][0].fields["end"] == "exit"
    assert all(int_field(e, "used-before") == int_field(e, "used-after") for e in exits)
    assert len(seen.lines("user", "killed")) == 8
    assert seen.line("kernel", "ready")


def sparse_gigabyte_costs_what_it_touched(seen: Seen) -> None:
    starts = seen.lines("user", "start")
    assert len(starts) == len(seen.lines("user", "exit")) == 8
    assert all((int_field(s, "pages"), int_field(s, "tables")) == (0, 1) for s in starts)
    assert all(int_field(u, "faults") > 0 for u in seen.lines("vm", "usage"))
    munmap = [r for r in seen.lines("vm", "munmap") if r.fields["name"] == "sparse"][0]
    assert (int_field(munmap, "pages"), int_field(munmap, "tables")) == (16, 17)
    assert all(e.fields["balanced"] == "yes" for e in seen.lines("user", "exit"))


def fork_cow_copies_what_each_side_wrote(seen: Seen) -> None:
    """What the text points at in fork-cow: a fork line, four copies by the
    child and two by the parent in the mmap region, the child's exit still
    sharing 11 pages, then the parent's write to page 10 taken over."""
    start = [r for r in seen.lines("user", "start") if r.fields["name"] == "fork-cow"][0]
    parent = start.fields["pid"]
    fork = [r for r in seen.lines("cow", "fork") if r.fields["pid"] == parent][0]
    child = fork.fields["child"]
    base = int_field([r for r in seen.lines("vm", "mmap") if r.fields["pid"] == parent][0], "start")
    in_region = lambda r: base <= int_field(r, "va") < base + 16 * 4096  # noqa: E731
    copied = {pid: [r for r in seen.lines("cow", "copied") if r.fields["pid"] == pid and in_region(r)]
              for pid in (parent, child)}
    assert (len(copied[child]), len(copied[parent])) == (4, 2)
    exit_ = [r for r in seen.lines("user", "exit") if r.fields["pid"] == child][0]
    assert int_field(exit_, "still-shared") == 11
    taken = [r for r in seen.lines("cow", "taken-over") if r.fields["pid"] == parent and in_region(r)]
    assert [int_field(r, "va") for r in taken] == [base + 10 * 4096]


def kproc_rows(text: str) -> list[dict[str, str]]:
    return [harness.parse_fields(line.strip()) for line in text.splitlines() if line.strip().startswith("pid=")]


def family_and_cow_leaf_at_the_first_copy(seen: Seen) -> None:
    """At the first write fault on a copy-on-write page (`children`'s parent,
    after its three forks): kproc lists the parent and the three children, each
    under the PML4 the log gave it, every data page of each one read-only +
    copy-on-write and mapped by all four, their pages together as many as the
    references logged at the last fork; kpt on the faulting address shows a
    read-only leaf marked copy-on-write over the frame the kernel then logged
    it copied from; kvmas counts the parent's copy-on-write pages."""
    records = seen.result.records
    first_copy = next(r for r in records if r.subsystem == "cow" and r.event == "copied")
    forks = [r for r in records if r.subsystem == "cow" and r.event == "fork" and r.line_number < first_copy.line_number]
    run = next(r for r in records if r.subsystem == "sched" and r.event == "run")
    parent = run.fields["pid"]
    assert len(forks) == 3 and {f.fields["pid"] for f in forks} == {parent}, forks

    listing = seen.gdb_after("tasks")
    summary = listing.strip().splitlines()[0]
    rows = kproc_rows(listing)
    assert harness.parse_fields(summary)["tasks"] == str(1 + len(forks)), listing
    assert harness.parse_fields(summary)["current"] == first_copy.fields["pid"] == parent, listing
    expected = {parent: ("0", run.fields["cr3"])} | {f.fields["child"]: (parent, f.fields["child-pml4"]) for f in forks}
    assert {row["pid"]: (row["parent"], row["pml4"]) for row in rows} == expected, listing
    assert all(row["state"] == "ready" and row["name"] == run.fields["name"] for row in rows), listing
    assert " running" in next(line for line in listing.splitlines() if f"pid={parent} " in line), listing
    cow = int(forks[-1].fields["cow"])
    for row in rows:
        assert int(row["cow"]) == int(row["shared"]) == cow, f"every data page copy-on-write and shared:\n{listing}"
        assert (row["copied"], row["taken-over"]) == ("0", "0"), listing
    assert sum(int(row["pages"]) for row in rows) == int(forks[-1].fields["references"]), listing

    walk = seen.gdb_after("leaf")
    leaf = next(line for line in walk.splitlines() if line.strip().startswith("PT["))
    assert leaf.rstrip().endswith("copy-on-write") and "|RW|" not in leaf, walk
    assert f"-> page {first_copy.fields['from']} (4KiB)" in leaf, walk
    translation = kpt_walk(walk)
    assert int(translation["va"], 16) & ~0xFFF == int(first_copy.fields["va"], 16), walk
    assert translation["access"] == "R", walk
    regions = seen.gdb_after("regions")
    marked = sum(int(m[1]) for m in re.finditer(r" cow=(\d+)", regions))
    assert marked == int(forks[0].fields["cow"]), regions
def stale_read_then_shootdown(seen: Seen) -> None:
    """Two CPUs: CPU 1 reads the old frame after CPU 0's INVLPG, the new one
    after the shootdown; step 3 (12 pages) asks CPU 1 for one full flush; the
    programs run on both CPUs, and CPU 1 leaves hop's tables when told."""
    assert int_field(seen.line("smp", "cpus"), "online") == 2
    stale, fresh = seen.line("tlb", "stale read"), seen.line("tlb", "fresh read")
    assert stale.fields["got"] == stale.fields["before"] != stale.fields["expected"]
    assert fresh.fields["got"] == fresh.fields["expected"]
    step3 = [r for r in seen.lines("tlb", "shootdown") if r.fields["step"] == "3"][0]
    assert (int_field(step3, "ipis"), int_field(step3, "remote-full"), int_field(step3, "remote-invlpg")) == (1, 1, 0)
    # Then the programs: turns alternate between the CPUs, CPU 1 keeps hop's
    # tables between its turns and leaves them when hop changes a page on CPU 0.
    hop_runs = [int_field(r, "cpu") for r in seen.lines("sched", "run") if r.fields["name"] == "hop"]
    assert set(hop_runs) == {0, 1} and all(a != b for a, b in zip(hop_runs, hop_runs[1:]))
    left = [r for r in seen.lines("tlb", "lazy cpus left") if r.fields["for"] == "invalidate"]
    assert left and all((int_field(r, "initiator"), int_field(r, "targets")) == (0, 0x2) for r in left)
    assert any(r.fields["text"].strip('"') == "hop rounds=2 stale=0"
               for r in seen.lines("user", "write"))


def silent_cpu_named(seen: Seen) -> None:
    """Eight CPUs, APIC ID 5 never started: named, seven online, the script on those."""
    silent = seen.line("smp", "cpu silent")
    assert (silent.level, silent.fields["apic-id"]) == ("WARN", "5")
    summary = seen.line("smp", "cpus")
    assert (int_field(summary, "online"), int_field(summary, "expected")) == (7, 8)
    step1 = [r for r in seen.lines("tlb", "shootdown") if r.fields["step"] == "1"][0]
    assert int_field(step1, "ipis") == 6


def cpus_listed_with_their_shootdowns(seen: Seen) -> None:
    """kcpus as the script starts: the four CPUs the log brought online, each
    at its GS base, and the stale-read demonstration's one shootdown on CPU 1."""
    lines = [line.strip() for line in seen.gdb_after("cpus").splitlines() if line.strip().startswith("cpu ")]
    listed = {int(line.split()[1]): harness.parse_fields(line) for line in lines}
    online = {int_field(r, "index"): r for r in seen.lines("smp", "cpu online")}
    assert sorted(listed) == sorted(online) == [0, 1, 2, 3]
    for index, fields in listed.items():
        assert int(fields["apic-id"]) == int_field(online[index], "apic-id")
        assert fields["online"] == "1" and fields["work"] == "idle"
        if index:
            assert int(fields["gs"], 16) == int_field(online[index], "gs")
    assert (listed[1]["shootdowns"], listed[1]["invlpg"], listed[1]["full"]) == ("1", "1", "0")
    assert all(listed[i]["shootdowns"] == "0" for i in (2, 3))


def first_programs_regions_listed(seen: Seen) -> None:
    """kvmas at the first program's usage line: exec-data's regions as the log
    listed them, the mmap region included, and what first touches mapped."""
    listing = seen.gdb_after("regions")
    rows = [line.split() for line in listing.splitlines() if line.strip().startswith("0x")]
    logged = [r for r in seen.lines("vm", "region") if r.fields["pid"] == "1"]
    mmap = [r for r in seen.lines("vm", "mmap") if r.fields["pid"] == "1"][0]
    expected = sorted([(int_field(r, "start"), int_field(r, "end"), r.fields["rights"], r.fields["kind"]) for r in logged]
                      + [(int_field(mmap, "start"), int_field(mmap, "start") + int_field(mmap, "length"), "rw-",
                          "anonymous")])
    shown = [(int(row[0].split("-")[0], 16), int(row[0].split("-")[1], 16), row[2], row[3]) for row in rows]
    assert shown == expected, listing
    mapped = {row[3]: int(row[4].split("=")[1]) for row in rows}
    usage = [u for u in seen.lines("vm", "usage") if u.fields["pid"] == "1"][0]
    assert sum(mapped.values()) == int_field(usage, "pages") + int_field(usage, "borrowed"), listing
    assert mapped["anonymous"] == 0, listing  # its only touch was a refused instruction fetch


def hello_text_walked_under_its_own_cr3(seen: Seen) -> None:
    walk = seen.gdb_after("text")
    start = [r for r in seen.lines("user", "start") if r.fields["name"] == "hello"][0]
    assert f"cr3={int_field(start, 'pml4'):#x}" in walk, walk
    assert walk.count("|US") >= 4, walk  # PML4, PDPT, PD entries and the leaf
    module = [r for r in seen.lines("loader", "module") if r.fields["name"] == "hello.elf"][0]
    assert f"va=0x400000 pa={int_field(module, 'pa') + 0x1000:#x} page=4KiB access=RX user" in walk, walk



def five_levels_asked_and_given(seen: Seen) -> None:
    assert seen.line("loader", "paging").fields["levels"] == "5"
    assert seen.line("paging", "depth").fields["levels"] == "5"
    assert seen.line("paging", "phase map_phys_offset_regions").fields["base"] == "0xff00000000000000"
    assert seen.result.records[-1].event == "ready"


def four_levels_without_la57(seen: Seen) -> None:
    assert seen.line("loader", "paging").fields == {"levels": "4", "asked": "5", "why": "cpu-has-no-la57"}
    assert seen.line("paging", "depth").fields["why"] == "cpu-has-no-la57"
    assert seen.line("paging", "phase map_phys_offset_regions").fields["base"] == "0xffff800000000000"
    assert seen.result.records[-1].event == "ready"


TRY_IT: dict[str, TryIt] = {
    "make run CH=01-boot CMDLINE=loader.dump-map": TryIt("01-boot", dump_map_has_loader_objects),
    "make run CH=01-boot CMDLINE=test.fail=page-fault": TryIt("01-boot", page_fault_panics),
    "make run CH=01-boot CPU=max,+la57 CMDLINE=loader.test-la57": TryIt("01-boot", left_five_level_paging),
    "make debug CH=01-boot": TryIt("01-boot", cr3_is_the_loaders_pml4,
                                   gdb=[("cr3", "info registers cr3"), ("pml4", "x/4gx $cr3")]),
    "make run CH=02-memory-map MEM=4G": TryIt("02-memory-map", ram_above_4g),
    "make run CH=02-memory-map CMDLINE=test.corrupt=overlap": TryIt("02-memory-map", corrupt_overlap_rejected),
    "make debug CH=02-memory-map": TryIt("02-memory-map", descriptor_size_in_gdb, gdb=[
        ("", "break mm::validate_handoff"), ("", "continue"), ("size", "p/x handoff.descriptor_size")]),
    'make run CH=03-frame-allocator CMDLINE="loader.dump-map test.exhaust"':
        TryIt("03-frame-allocator", exhaustion_matches_the_dump),
    "make debug CH=03-frame-allocator": TryIt("03-frame-allocator", frames_go_up_by_4k, gdb=[
        ("", "break mm::BootFrameAllocator::alloc_frame"), ("", "continue"), ("", "finish"), ("frame-1", "p/x $rax"),
        ("", "continue"), ("", "finish"), ("frame-2", "p/x $rax")]),
    "make run CH=04-page-tables": TryIt("04-page-tables", no_1g_at_256m),
    "make run CH=04-page-tables CPU=qemu64,-nx": TryIt("04-page-tables", without_nx),
    "make debug CH=04-page-tables": TryIt("04-page-tables", cr3_before_and_after_switch, gdb=[
        ("", "break switch_to"), ("", "continue"), ("before", "info registers cr3"), ("", "finish"),
        ("after", "info registers cr3")]),
    "make run CH=05-paging": TryIt("05-paging", window_three_runs_no_1g),
    "make run CH=05-paging MEM=8G": TryIt("05-paging", window_with_1g_pages),
    "make run CH=05-paging MEM=8G CPU=qemu64": TryIt("05-paging", qemu64_trades_1g_for_2m),
    "make debug CH=05-paging": TryIt("05-paging", same_frame_through_both, gdb=[
        ("", "break check_phys_window"), ("", "continue"), ("window", "kpt 0xffff800000100000"),
        ("identity", "kpt 0x100000")]),
    "make run CH=06-mmio CMDLINE=hold": TryIt("06-mmio", screendump_pattern),
    "make run CH=06-mmio CMDLINE=test.corrupt-acpi=APIC": TryIt("06-mmio", madt_checksum),
    "make run CH=06-mmio CMDLINE=test.corrupt-acpi=all": TryIt("06-mmio", three_tables_in_turn),
    "make run CH=06-mmio MACHINE=q35,hpet=off": TryIt("06-mmio", without_hpet),
    "make run CH=07-temporary-window CMDLINE=test.stale-tlb": TryIt("07-temporary-window", two_stale_reads),
    "make run CH=07-temporary-window CPU=qemu64,-nx": TryIt("07-temporary-window", window_without_nx),
    "make debug CH=07-temporary-window CMDLINE=test.stale-tlb": TryIt(
        "07-temporary-window", tables_say_b_while_the_read_says_a, gdb=[
            ("", "break mm::TemporaryMapping::remap"), ("", "continue"), ("tlb-before", "monitor info tlb"),
            ("", "finish"), ("tlb-after", "monitor info tlb")]),
    "make run CH=08-handoff-remap CMDLINE=test.corrupt-remap=offset": TryIt("08-handoff-remap", remap_offset_rejected),
    "make debug CH=08-handoff-remap": TryIt("08-handoff-remap", identity_gone_window_stays, gdb=[
        ("", "break mm::check_upper_half_only"), ("", "continue"), ("low", "kpt 0x1000"),
        ("window", "kpt 0xffff800000001000")]),
    "make run CH=09-verify CMDLINE=test.bad-mapping=wx": TryIt("09-verify", wx_four_findings),
    "make run CH=09-verify CMDLINE=test.bad-mapping=all": TryIt("09-verify", every_bad_mapping),
    "make debug CH=09-verify": TryIt("09-verify", guard_below_image, gdb=[
        ("", "break MemoryManager::verify"), ("", "continue"), ("layout", "klayout"),
        ("guard", "kpt 0xffffffff80000000")]),
    "make run CH=10-page-faults CMDLINE=test.fault=stack-overflow": TryIt("10-page-faults", stack_overflow_report),
    "make debug CH=10-page-faults": TryIt("10-page-faults", tables_as_the_cpu_lines_say, gdb=[
        ("", "break kernel::install_exception_tables"), ("", "continue"), ("", "finish"),
        ("registers", "monitor info registers")]),
    "make run CH=11-heap CMDLINE=test.heap-guard": TryIt("11-heap", heap_guard_reported),
    "make run CH=11-heap MEM=8G": TryIt("11-heap", bitmap_at_8g),
    "make run CH=12-user-space": TryIt("12-user-space", every_program_ends_and_gives_its_frames_back),
    "make run CH=13-demand-paging": TryIt("13-demand-paging", sparse_gigabyte_costs_what_it_touched),
    "make run CH=15-tlb-shootdown SMP=2": TryIt("15-tlb-shootdown", stale_read_then_shootdown),
    "make run CH=15-tlb-shootdown SMP=8 CMDLINE=test.silent-cpu=5": TryIt("15-tlb-shootdown", silent_cpu_named),
    "make debug CH=15-tlb-shootdown SMP=4": TryIt("15-tlb-shootdown", cpus_listed_with_their_shootdowns, gdb=[
        ("", "break mm::run_shootdown_script"), ("", "continue"), ("cpus", "kcpus")]),
    "make debug CH=12-user-space": TryIt("12-user-space", hello_text_walked_under_its_own_cr3, gdb=[
        ("", "break mm::handle_syscall"), ("", "continue"), ("text", "kpt 0x400000")]),
    "make run CH=14-copy-on-write": TryIt("14-copy-on-write", fork_cow_copies_what_each_side_wrote),
    "make debug CH=14-copy-on-write": TryIt("14-copy-on-write", family_and_cow_leaf_at_the_first_copy, gdb=[
        ("", "break mm::resolve_cow_write"), ("", "continue"), ("tasks", "kproc"), ("regions", "kvmas"),
        ("leaf", "kpt address.value_")]),
    "make debug CH=13-demand-paging": TryIt("13-demand-paging", first_programs_regions_listed, gdb=[
        ("", "break mm::log_usage"), ("", "continue"), ("regions", "kvmas &m")]),
    "make run CH=16-five-level-paging CMDLINE=paging=5": TryIt("16-five-level-paging", five_levels_asked_and_given),
    "make run CH=16-five-level-paging CPU=qemu64 CMDLINE=paging=5": TryIt("16-five-level-paging",
                                                                           four_levels_without_la57),
}


# ---- the commands, as make run gives them to QEMU ------------------------------------------


def parse_command(command: str) -> tuple[str, dict]:
    """`make run CH=… MEM=…` -> ("run", BootConfig keyword arguments)."""
    words = shlex.split(command)
    assert words[:1] == ["make"] and words[1] in ("run", "debug"), command
    settings = dict(word.split("=", 1) for word in words[2:])
    unknown = set(settings) - {"CH", "MEM", "CPU", "SMP", "MACHINE", "CMDLINE"}
    assert not unknown, f"{command}: make run knows no {unknown}"
    config = {"chapter": settings["CH"], "cmdline": settings.get("CMDLINE", "")}
    for variable, name in (("MEM", "memory"), ("CPU", "cpu"), ("MACHINE", "machine")):
        if variable in settings:
            config[name] = settings[variable]
    if "SMP" in settings:
        config["smp"] = int(settings["SMP"])
    return words[1], config


TRY_SECTION = re.compile(r"^## Try it\n(.*?)(?=^## )", re.S | re.M)
COMMAND = re.compile(r"`(make (?:run|debug)\b[^`]*)`")


def try_it_section(chapter: str) -> str:
    match = TRY_SECTION.search((REPO / "chapters" / chapter / "README.md").read_text())
    assert match, f"{chapter}'s README has no Try it section"
    return match[1]


def test_every_try_it_command_is_checked_here_and_shown_there():
    shown = {(chapter, command) for chapter in harness.chapters() for command in COMMAND.findall(try_it_section(chapter))}
    checked = {(entry.chapter, command) for command, entry in TRY_IT.items()}
    assert shown - checked == set(), "Try-it commands without a check in tests/test_try_it.py"
    assert checked - shown == set(), "checks of commands no README shows any more"


def test_every_gdb_command_checked_is_one_the_text_names():
    for command, entry in TRY_IT.items():
        section = try_it_section(entry.chapter)
        for _, typed in entry.gdb:
            assert f"`{typed}`" in section, f"{entry.chapter}: the text never tells the reader to type `{typed}`"


@pytest.mark.parametrize("command", list(TRY_IT), ids=list(TRY_IT))
def test_try_it(built, tmp_path, command):
    entry = TRY_IT[command]
    mode, config = parse_command(command)
    assert config["chapter"] == entry.chapter
    if mode == "debug":
        then = []
        for marker, typed in entry.gdb:
            then += ([f"echo @@{marker}\\n"] if marker else []) + [typed]
        then.append("continue")  # let the kernel finish, as a reader would
        cmdline = config.pop("cmdline")
        result, output = harness_gdb.boot_under_gdb(tmp_path, config.pop("chapter"), cmdline, then, **config)
        seen = Seen(result, output)
    else:
        hold = "hold" in config["cmdline"].split()
        boot = harness.BootConfig(**config) if not hold else harness.BootConfig(
            config["chapter"], hold=True, monitor_commands=[harness_screendump()])
        seen = Seen(harness.boot(boot))
    expected = asked_outcome.asked_outcome(config.get("cmdline") if mode == "run" else cmdline, entry.chapter)
    if not (mode == "run" and hold):
        assert seen.result.outcome == expected, seen.result.describe()
    entry.check(seen)


def harness_screendump():
    from harness.inspections import screendump
    return screendump
