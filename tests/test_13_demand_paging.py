"""Chapter 13: demand paging — a program's pages arrive on first touch.

Two boots. The book's boot runs every program and is read over the monitor
after ``ready``: chapter 04's protections still hold and the lower half is
empty again. A held boot, on another machine (qemu64: no SMAP, no SMEP; 384 MiB),
stops in ``sparse`` at its first write
(``hold vm.hold=sparse``), after it touched 16 pages of the gigabyte it
reserved and before it gives them back, so QEMU's ``info tlb`` under its CR3
shows exactly what first touches built, and a walk of the live tables shows
no frame writable through one mapping and executable through another.

What the tests hold the kernel to: each fault it served mapped one page and
was counted once (faults = pages mapped, over a program's whole life); the
sparse program's gigabyte cost the pages it touched plus the tables a simple
model predicts, both in the kernel's munmap line and in QEMU's view; every
hostile program is stopped with the rule its source breaks; every refused
argument of mmap, munmap and mprotect comes back as the error the program
expected, with a line naming the field; munmap and mprotect invalidate
exactly the pages they change; and every frame and table comes back.
"""

from __future__ import annotations

import re

import pytest

import harness
from harness import only
from harness.elf import read_elf
from harness.inspections import inspected_boot, page_table_leaves, parse_page_table_leaves
from harness.log import int_field
from harness.monitor import parse_info_registers, parse_info_tlb
from harness.paths import chapter_build_dir, chapter_variables
from harness.protections import check_frames, check_protections, pat_in_force

CHAPTER = "13-demand-paging"
PAGE = 4096
USER_LIMIT = (1 << 47) - PAGE
STACK_TOP = 0x7FFF_FFF0_0000
STACK_START = STACK_TOP - 4 * PAGE  # the 16 KiB a program starts with
STACK_MAX = 256 * 1024
GUARD_GAP = 1 << 20
MMAP_BASE = 0x10_0000_0000
NOWHERE = 0x2000_0000_0000  # no-region.cpp

# program -> (how it ends, the rule its kill line names)
PROGRAMS = {
    "sparse": ("exit", None),
    "mmap-rules": ("exit", None),
    "grow-stack": ("exit", None),
    "no-region": ("killed", "no-region"),
    "write-rodata": ("killed", "write-read-only"),
    "exec-data": ("killed", "execute-no-execute"),
    "stack-overflow": ("killed", "stack-overflow"),
    "protect-then-write": ("killed", "write-read-only"),
}

# mmap-rules.cpp's refusals, in order: (call, field, returns).
REFUSALS = [
    ("mmap", "length", -22), ("mmap", "length", -22), ("mmap", "address", -22), ("mmap", "prot", -22),
    ("mmap", "prot", -22), ("mmap", "flags", -22), ("mmap", "prot", -13), ("mmap", "address", -12),
    ("mmap", "length", -12), ("mmap", "address", -17), ("mmap", "address", -17), ("mprotect", "address", -12),
    ("mprotect", "prot", -13), ("munmap", "address", -22), ("mprotect", "prot", -22), ("mprotect", "prot", -13),
    ("mprotect", "prot", -13),  # 22: the program's own data made executable (only text may be)
]


@pytest.fixture(scope="module")
def finished(built):
    result = harness.boot(inspected_boot(CHAPTER))
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def held(built):
    """Stopped at sparse's first write: its 16 pages touched, not yet unmapped.
    Another machine than the book's: qemu64 (no SMAP, no SMEP), 384 MiB."""
    config = harness.BootConfig(CHAPTER, cpu="qemu64", memory="384M", cmdline="vm.hold=sparse", hold=True,
                                monitor_commands=("info registers", "info tlb", page_table_leaves))
    result = harness.boot(config)
    harness.assert_outcome(result, "held")
    return result


def by_program(result) -> dict[str, dict]:
    """name -> its start line, its exit line, its kill line (or None), its
    usage line and every record with its pid."""
    out = {}
    for start in [r for r in result.records_for("user") if r.event == "start"]:
        pid = start.fields["pid"]
        records = [r for r in result.records if r.fields.get("pid") == pid and r.subsystem in ("user", "vm")]
        killed = [r for r in records if r.event == "killed"]
        assert len(killed) <= 1
        out[start.fields["name"]] = {
            "start": start, "records": records, "killed": killed[0] if killed else None,
            "exit": only(records, "user", "exit"), "usage": only(records, "vm", "usage"),
        }
    return out


def fields_of(text: str) -> dict[str, int]:
    """A program's own report, ``key=value`` words, as numbers."""
    return {k: int(v, 0) for k, v in re.findall(r"(\S+)=(\S+)", text)}


def sparse_pages(finished) -> tuple[int, list[int]]:
    """What sparse says it touched: (base, the pages)."""
    said = fields_of(only(by_program(finished)["sparse"]["records"], "user", "write").fields["text"])
    return said["base"], [said["base"] + i * said["stride"] for i in range(said["touched"])]


def tables_for(pages) -> tuple[set, set, set]:
    """The page tables, page directories and PDPTs a set of 4 KiB pages needs."""
    return {va >> 21 for va in pages}, {va >> 30 for va in pages}, {va >> 39 for va in pages}


def test_the_chapter_builds_the_programs_the_tests_know():
    assert sorted(chapter_variables(CHAPTER)["CHAPTER_USER_PROGRAMS"]) == sorted(PROGRAMS)


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_the_kernel_reaches_ready_and_only_programs_were_stopped_or_refused(finished):
    assert finished.records[-1].subsystem == "kernel" and finished.records[-1].event == "ready"
    noisy = [r for r in finished.records if r.level in ("WARN", "ERROR", "PANIC")]
    assert all(r.level == "WARN" and (r.subsystem, r.event) in {("user", "killed"), ("vm", "refused")} for r in noisy), \
        [str(r) for r in noisy]


def test_every_program_ends_as_its_source_says(finished):
    programs = by_program(finished)
    assert sorted(programs) == sorted(PROGRAMS)
    for name, (end, rule) in PROGRAMS.items():
        p = programs[name]
        assert p["exit"].fields["end"] == end, name
        if rule is None:
            assert p["killed"] is None and int_field(p["exit"], "code") == 0, name
        else:
            assert p["killed"].fields["rule"] == rule and p["killed"].fields["why"], name
    summary = only(finished, "user", "all programs done")
    assert int_field(summary, "exited") == 3 and int_field(summary, "killed") == 5


def test_nothing_is_mapped_before_a_program_runs(finished):
    for name, p in by_program(finished).items():
        assert (int_field(p["start"], "pages"), int_field(p["start"], "borrowed"), int_field(p["start"], "tables")) \
            == (0, 0, 1), name  # the PML4 alone: its upper half is the kernel's


def test_regions_are_the_elfs_segments_and_the_stack(finished):
    rights = {5: "r-x", 4: "r--", 6: "rw-"}
    for name, p in by_program(finished).items():
        elf = read_elf((chapter_build_dir(CHAPTER) / "user" / f"{name}.elf").read_bytes())
        regions = [r for r in p["records"] if r.event == "region"]
        expected = [(s.vaddr, s.vaddr + -(-s.memsz // PAGE) * PAGE, rights[s.flags & 7], "file") for s in elf.loads]
        expected.append((STACK_START, STACK_TOP, "rw-", "stack"))
        assert [(int_field(r, "start"), int_field(r, "end"), r.fields["rights"], r.fields["kind"]) for r in regions] \
            == expected, name
        assert int_field(regions[-1], "grow-limit") == STACK_TOP - STACK_MAX


def test_each_fault_served_mapped_one_page(finished):
    """Over a program's life, faults served = pages it held at the end + pages
    munmap took away: no page was filled twice, none without a fault."""
    for name, p in by_program(finished).items():
        usage = p["usage"]
        unmapped = sum(int_field(r, "pages") + int_field(r, "borrowed") for r in p["records"] if r.event == "munmap")
        assert int_field(usage, "faults") == int_field(usage, "pages") + int_field(usage, "borrowed") + unmapped, name
        assert int_field(usage, "faults") == sum(int_field(usage, k) for k in ("zero-fill", "file-copy", "file-map"))
        assert int_field(usage, "file-map") == int_field(usage, "borrowed"), name  # text: the module's frame


def test_sparse_gigabyte_costs_the_pages_touched_and_the_predicted_tables(finished):
    p = by_program(finished)["sparse"]
    base, pages = sparse_pages(finished)
    said = fields_of(only(p["records"], "user", "write").fields["text"])
    mmap = only(p["records"], "vm", "mmap")
    assert int_field(mmap, "start") == base == MMAP_BASE and int_field(mmap, "length") == 1 << 30
    assert said["zero"] == len(pages) == 16  # each page read as zeroes first
    # The model: one PT per 2 MiB touched, one PD per GiB, one PDPT per 512 GiB,
    # less the PDPT the program's text at 4 MiB already uses (PML4 slot 0).
    pts, pds, pdpts = tables_for(pages)
    predicted = len(pts) + len(pds) + len(pdpts - {0x40_0000 >> 39})
    munmap = only(p["records"], "vm", "munmap")
    assert int_field(munmap, "pages") == len(pages)
    assert int_field(munmap, "tables") == predicted == 16 + 1
    assert int_field(munmap, "invlpg") == len(pages)  # the pages that were there, and no other


def test_the_held_sparse_process_as_qemu_sees_it(finished, held):
    hold = only(held, "kernel", "holding for monitor")
    start = only(held, "user", "start", name="sparse")
    registers = parse_info_registers(held.monitor["info registers"])
    assert registers["CR3"] & ~0xFFF == int_field(start, "pml4") == int_field(hold, "cr3")
    tlb = [e for e in parse_info_tlb(held.monitor["info tlb"]) if e.user]
    user = {e.va: e for e in tlb}
    base, pages = sparse_pages(finished)
    in_gigabyte = sorted(va for va in user if base <= va < base + (1 << 30))
    assert in_gigabyte == pages, "exactly the touched pages of the gigabyte, no others"
    assert all(user[va].writable and user[va].no_execute for va in pages)
    assert len({user[va].pa for va in pages}) == len(pages), "one frame each"
    # The kernel's count at the hold against QEMU's view of the same tables.
    usage = only(held, "vm", "usage", name="sparse")
    assert int_field(usage, "pages") + int_field(usage, "borrowed") == len(user)
    pts, pds, pdpts = tables_for(user)
    assert int_field(usage, "tables") == 1 + len(pdpts) + len(pds) + len(pts)
    assert int_field(usage, "faults") == len(user)
    assert all(va < USER_LIMIT for va in user)


def test_no_frame_writable_anywhere_and_executable_in_the_held_process(held):
    """Per physical frame, under sparse's CR3: its text runs from the module's
    frame, which no mapping (the kernel's window above all) makes writable,
    and its first-touch frames are writable and never executable."""
    leaves = parse_page_table_leaves(held.monitor["page_table_leaves"])
    check_frames(leaves, parse_info_tlb(held.monitor["info tlb"]), pat_in_force(held))
    user = [leaf for leaf in leaves if leaf.user]
    assert user and all(leaf.va < USER_LIMIT for leaf in user)


def test_hostile_faults_are_decoded_at_the_address_touched(finished):
    programs = by_program(finished)

    def kill(name):
        return programs[name]["killed"]

    assert int_field(kill("no-region"), "addr") == NOWHERE and kill("no-region").fields["present"] == "no"
    # Not yet there, yet refused: the region's rights decide, not a page's.
    k = kill("write-rodata")
    rodata = next(r for r in programs["write-rodata"]["records"] if r.event == "region" and r.fields["rights"] == "r--")
    assert int_field(k, "addr") == int_field(rodata, "start") and k.fields["present"] == "no"
    assert k.fields["access"] == "write"
    k = kill("exec-data")
    mmap = only(programs["exec-data"]["records"], "vm", "mmap")
    assert int_field(k, "addr") == int_field(k, "rip") == int_field(mmap, "start") and k.fields["access"] == "execute"
    k = kill("stack-overflow")
    limit = STACK_TOP - STACK_MAX
    assert limit - GUARD_GAP <= int_field(k, "addr") < limit
    usage = programs["stack-overflow"]["usage"]
    assert int_field(usage, "stack-low") == limit
    assert int_field(usage, "stack-grown") == (STACK_START - limit) // PAGE  # one growth per page, down to the limit
    for name in ("no-region", "write-rodata", "exec-data", "stack-overflow", "protect-then-write"):
        assert int_field(kill(name), "vector") == 14, name


def test_mprotect_invalidates_so_the_second_write_faults(finished):
    p = by_program(finished)["protect-then-write"]
    mprotect = only(p["records"], "vm", "mprotect")
    assert (int_field(mprotect, "changed"), int_field(mprotect, "invlpg")) == (1, 1)
    k = p["killed"]
    assert k.fields["present"] == "yes" and k.fields["access"] == "write"
    assert int_field(k, "addr") == int_field(mprotect, "start")
    assert p["records"].index(mprotect) < p["records"].index(k)


def test_the_stack_grows_on_demand_within_its_limit(finished):
    usage = by_program(finished)["grow-stack"]["usage"]
    said = fields_of(only(by_program(finished)["grow-stack"]["records"], "user", "write").fields["text"])
    low = int_field(usage, "stack-low")
    assert STACK_TOP - STACK_MAX <= low <= STACK_TOP - said["depth"] * said["frame-bytes"]
    assert int_field(usage, "stack-grown") == (STACK_START - low) // PAGE


def test_every_bad_argument_is_refused_by_name(finished):
    p = by_program(finished)["mmap-rules"]
    refused = [(r.fields["call"], r.fields["field"], int(r.fields["returns"])) for r in p["records"] if r.event == "refused"]
    assert refused == REFUSALS
    assert all(r.fields["rule"] for r in p["records"] if r.event == "refused")
    writes = [r.fields["text"] for r in p["records"] if r.event == "write"]
    assert writes[0] == "...."  # a page first touched by the kernel's copy: four zero bytes
    assert fields_of(writes[1]) == {"checked": 24, "first-wrong": 0}
    # The split, the second (empty) munmap and the rest: exactly what was there each time.
    munmaps = [(int_field(r, "pages"), int_field(r, "invlpg")) for r in p["records"] if r.event == "munmap"]
    assert munmaps == [(2, 2), (0, 0), (6, 6)]
    mprotect = only(p["records"], "vm", "mprotect")
    assert (int_field(mprotect, "changed"), int_field(mprotect, "invlpg")) == (2, 2)


def test_every_frame_and_table_comes_back(finished):
    for name, p in by_program(finished).items():
        exit_, usage = p["exit"], p["usage"]
        assert int_field(exit_, "used-before") == int_field(exit_, "used-after"), name
        assert exit_.fields["balanced"] == "yes", name
        assert int_field(exit_, "frames-returned") == int_field(usage, "frames"), name
        assert (int_field(exit_, "pages"), int_field(exit_, "tables")) == \
            (int_field(usage, "pages"), int_field(usage, "tables")), name
        audit = only(p["records"], "user", "audit")
        assert audit.fields["ok"] == "yes"
        assert int_field(audit, "user-pages") == int_field(usage, "pages") + int_field(usage, "borrowed"), name
    summary = only(finished, "user", "all programs done")
    assert int_field(summary, "used-before") == int_field(summary, "used-after") and summary.fields["balanced"] == "yes"


def test_the_lower_half_is_empty_again_after_the_last_program(finished):
    tlb = parse_info_tlb(finished.monitor["info tlb"])
    assert not [e for e in tlb if e.va & (1 << 64) - 1 < 1 << 47]
