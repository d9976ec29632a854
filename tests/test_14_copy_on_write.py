"""Chapter 14: copy-on-write — fork clones an address space, and a page is
copied only when one side writes it.

Two boots. The book's boot runs every program (``max`` CPU, SMAP and SMEP
on) and is read over the monitor after ``ready``: chapter 04's protections
still hold. A held boot on ``qemu64`` (no SMAP, no SMEP) with another memory
size stops in fork-cow's child at its first write (``hold cow.hold=fork-cow``),
after the child wrote 4 of the 16 pages it shares with its parent, so QEMU's
``info tlb`` under the child's CR3, beside a walk of the parent's tables by
physical reads, shows which frames the two processes share; the same boot
makes the first fork of ``children`` run out of frames
(``test.fork-oom=children``) to show the clone undoes itself.

What the tests hold the kernel to: after a fork, pages copied == pages
written, in each process, and the unwritten pages are one frame mapped
read-only in both; a page whose other mapping has gone is taken over, not
copied; every reference taken by fork comes back, every frame and table
returns to the allocator, and the copy-on-write audit finds nothing after
every fork and exit; wait's refusals come back as the errors the program
expected; the scheduler runs the processes in the order their yields say.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot, page_table_leaves, parent_page_table_leaves, parse_page_table_leaves
from harness.log import int_field
from harness.monitor import parse_info_registers, parse_info_tlb
from harness.paths import chapter_variables
from harness.protections import check_frames, check_protections, pat_in_force

CHAPTER = "14-copy-on-write"
PAGE = 4096
USER_LIMIT = (1 << 47) - PAGE
STACK_TOP = 0x7FFF_FFF0_0000
STACK_MAX = 256 * 1024
COW_BIT = 1 << 10  # mm/copy_on_write.h: user_flags::kCopyOnWrite
RW = 1 << 1

PROGRAMS = ["children", "fork-cow", "orphan", "wait-rules"]
# fork-cow.cpp's plan: pages of its 16 written by the child, by the parent while
# the child lives, and by the parent after the child ended.
FORK_COW_PAGES = 16
CHILD_WRITES = range(0, 4)
PARENT_WRITES = range(8, 10)
TAKEN_OVER_PAGE = 10


@pytest.fixture(scope="module")
def finished(built):
    result = harness.boot(inspected_boot(CHAPTER))
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def held(built):
    """Stopped in fork-cow's child at its first write: 4 pages copied, 12 shared."""
    config = harness.BootConfig(CHAPTER, cpu="qemu64", memory="192M", hold=True,
                                cmdline="cow.hold=fork-cow test.fork-oom=children",
                                monitor_commands=("info registers", "info tlb", page_table_leaves,
                                                  parent_page_table_leaves))
    result = harness.boot(config)
    harness.assert_outcome(result, "held")
    return result


def families(result) -> dict[str, list]:
    """Program name -> every record after the one before it ended (its
    regions, its start line, …) to its own `family done` line."""
    out, current = {}, []
    for r in result.records:
        current.append(r)
        if r.subsystem == "cow" and r.event == "family done":
            out[r.fields["name"]] = current
            current = []
    starts = [r for r in current if r.subsystem == "user" and r.event == "start"]
    if starts:  # a held boot: the family it stopped in
        out[starts[0].fields["name"]] = current
    return out


def of(records, subsystem, event, **fields):
    return [r for r in records if r.subsystem == subsystem and r.event == event
            and all(r.fields.get(k) == v for k, v in fields.items())]


def said(records, pid, prefix) -> dict[str, int]:
    """The program's own report (a write starting with `prefix`), as numbers."""
    texts = [r.fields["text"] for r in of(records, "user", "write", pid=str(pid)) if r.fields["text"].startswith(prefix)]
    assert len(texts) == 1, (prefix, texts)
    return {k: int(v, 0) for k, v in re.findall(r"(\S+)=(\S+)", texts[0])}


def pids(records) -> tuple[int, int]:
    fork = only(records, "cow", "fork")
    return int_field(fork, "pid"), int_field(fork, "child")


def stack_or_data(records, va) -> bool:
    """Inside the stack's reach or a file region of the program: where the
    compiler's own writes land (locals, return addresses, globals)."""
    if STACK_TOP - STACK_MAX <= va < STACK_TOP:
        return True
    return any(int_field(r, "start") <= va < int_field(r, "end") and r.fields["rights"] == "rw-"
               for r in of(records, "vm", "region"))


def test_the_chapter_builds_the_programs_the_tests_know():
    assert chapter_variables(CHAPTER)["CHAPTER_USER_PROGRAMS"] == PROGRAMS


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_the_kernel_reaches_ready_with_only_refused_calls(finished):
    assert finished.records[-1].subsystem == "kernel" and finished.records[-1].event == "ready"
    noisy = [r for r in finished.records if r.level in ("WARN", "ERROR", "PANIC")]
    assert noisy and all(r.level == "WARN" and (r.subsystem, r.event) == ("sched", "refused") for r in noisy), \
        [str(r) for r in noisy]
    summary = only(finished, "user", "all programs done")
    assert (int_field(summary, "programs"), int_field(summary, "exited")) == (4, 4)
    assert summary.fields["balanced"] == "yes"


def test_the_counts_cover_every_frame_of_the_allocator(finished):
    counts = only(finished, "cow", "refcounts")
    frames = int_field(counts, "frames")
    assert int_field(counts, "count-pages") == -(-frames // 2048)  # 2048 16-bit counts per 4 KiB page
    assert int_field(counts, "bytes") == int_field(counts, "count-pages") * PAGE
    # Exactly the frames the steady allocator took over at the handover, no more, no fewer.
    assert frames == int_field(only(finished, "frames", "handover"), "frames")


@pytest.mark.parametrize("which", ["finished", "held"])
def test_every_family_gives_back_every_reference_frame_and_table(request, which):
    result = request.getfixturevalue(which)
    done = of(result.records, "cow", "family done")
    assert done
    for d in done:
        assert (int_field(d, "references"), int_field(d, "counted-frames")) == (0, 0), str(d)
        assert int_field(d, "used-before") == int_field(d, "used-after") and d.fields["balanced"] == "yes", str(d)


def test_each_exit_gives_back_what_nobody_else_maps(finished):
    """A process's pages at its end = the frames it gave back + the ones
    another process still maps (given back later, by that one)."""
    for name, records in families(finished).items():
        for exit_ in of(records, "user", "exit"):
            usage = only(of(records, "cow", "usage", pid=exit_.fields["pid"]), "cow", "usage")
            assert int_field(exit_, "pages") + int_field(exit_, "still-shared") == int_field(usage, "pages"), name
            assert int_field(exit_, "tables") == int_field(usage, "tables"), name
        # Over the family, everything still shared at one exit is given back at a later one.
        shared = sum(int_field(e, "still-shared") for e in of(records, "user", "exit"))
        returned = sum(int_field(e, "pages") for e in of(records, "user", "exit"))
        usage_pages = sum(int_field(u, "pages") for u in of(records, "cow", "usage"))
        assert returned + shared == usage_pages, name


def test_fork_shares_every_page_and_write_protects_the_parent(finished):
    records = families(finished)["fork-cow"]
    fork = only(records, "cow", "fork")
    cow, read_only = int_field(fork, "cow"), int_field(fork, "shared-read-only")
    # Every leaf that was the parent's alone now has two references, and every
    # leaf of the parent that lost write permission was invalidated once: at
    # a first fork, every copy-on-write leaf.
    assert int_field(fork, "references") == 2 * (cow + read_only)
    assert int_field(fork, "write-protected") == int_field(fork, "invlpg") == cow
    audit = only(of(records, "cow", "audit", after="fork"), "cow", "audit")
    assert (int_field(audit, "spaces"), int_field(audit, "cow"), int_field(audit, "shared")) \
        == (2, 2 * cow, 2 * (cow + read_only))
    # The 16 pages it filled are among them: each was writable, so each became copy-on-write.
    assert cow >= FORK_COW_PAGES


def test_a_fork_that_write_protects_nothing_flushes_nothing(finished):
    """children's second and third forks find every writable page already
    copy-on-write (from the first): nothing loses write permission, nothing
    is invalidated."""
    forks = of(families(finished)["children"], "cow", "fork")
    assert int_field(forks[0], "write-protected") == int_field(forks[0], "invlpg") > 0
    for fork in forks[1:]:
        assert (int_field(fork, "write-protected"), int_field(fork, "invlpg")) == (0, 0), str(fork)
        assert int_field(fork, "cow") == int_field(forks[0], "cow")


def test_audit_after_every_fork_and_exit(finished):
    for name, records in families(finished).items():
        audits = of(records, "cow", "audit")
        assert len(audits) == len(of(records, "cow", "fork")) + len(of(records, "user", "exit")), name
        for a in audits:
            assert a.fields["ok"] == "yes" and all(int_field(a, k) == 0 for k in
                                                   ("writable-cow", "writable-shared", "mismatch", "unaccounted")), str(a)
        assert int_field(audits[-1], "spaces") == 0 and int_field(audits[-1], "counted") == 0, name


def test_pages_copied_are_the_pages_written(finished):
    records = families(finished)["fork-cow"]
    parent, child = pids(records)
    base = int_field(only(records, "vm", "mmap"), "start")
    region = range(base, base + FORK_COW_PAGES * PAGE)

    def faults(kind, pid):
        vas = [int_field(r, "va") for r in of(records, "cow", kind, pid=str(pid))]
        assert len(vas) == len(set(vas)), f"a page of pid {pid} was {kind} twice"
        return vas

    assert sorted(va for va in faults("copied", child) if va in region) == [base + i * PAGE for i in CHILD_WRITES]
    assert sorted(va for va in faults("copied", parent) if va in region) == [base + i * PAGE for i in PARENT_WRITES]
    assert [va for va in faults("taken-over", parent) if va in region] == [base + TAKEN_OVER_PAGE * PAGE]
    assert not [va for va in faults("taken-over", child) if va in region]
    # Any other write fault is the compiler's: the stack, or the program's data.
    for pid in (parent, child):
        for va in faults("copied", pid) + faults("taken-over", pid):
            assert va in region or stack_or_data(records, va), hex(va)
    # What each side says it saw: its own writes only.
    assert said(records, child, "child wrote")["unchanged"] == FORK_COW_PAGES - len(CHILD_WRITES)
    assert said(records, child, "child after")["unchanged"] == len(PARENT_WRITES)
    p = said(records, parent, "parent waited")
    assert (p["waited"], p["status"], p["unchanged"]) == (child, 7, len(CHILD_WRITES))
    # The counts in the usage lines are the fault lines.
    for pid in (parent, child):
        usage = only(of(records, "cow", "usage", pid=str(pid)), "cow", "usage")
        assert int_field(usage, "copied") == len(faults("copied", pid))
        assert int_field(usage, "taken-over") == len(faults("taken-over", pid))
    done = only(records, "cow", "family done")
    assert int_field(done, "copied") == len(of(records, "cow", "copied"))


def test_a_copy_goes_to_a_fresh_frame_and_leaves_the_shared_one(finished):
    records = families(finished)["fork-cow"]
    copies = of(records, "cow", "copied")
    assert len({int_field(r, "to") for r in copies}) == len(copies)
    assert all(int_field(r, "from") != int_field(r, "to") for r in copies)
    taken = of(records, "cow", "taken-over")
    assert taken and all(int_field(r, "frame") for r in taken)


def test_an_orphan_takes_over_instead_of_copying(finished):
    records = families(finished)["orphan"]
    parent, child = pids(records)
    base = int_field(only(records, "vm", "mmap"), "start")
    parent_exit = only(of(records, "user", "exit", pid=str(parent)), "user", "exit")
    assert int_field(parent_exit, "pages") == 0, "every page it had, its child still maps"
    assert of(records, "cow", "copied") == []
    taken = sorted(int_field(r, "va") for r in of(records, "cow", "taken-over", pid=str(child)))
    assert [va for va in taken if va >= base and va < base + 4 * PAGE] == [base + i * PAGE for i in range(4)]
    assert said(records, child, "orphan")["unchanged-before"] == 4


def test_the_scheduler_runs_processes_in_the_order_their_yields_say(finished):
    records = families(finished)["fork-cow"]
    parent, child = pids(records)
    # parent: fork, yield -> child: write, yield -> parent: write, yield -> child: ends -> parent: wait, ends
    assert [int_field(r, "pid") for r in of(records, "sched", "run")] == [parent, child, parent, child, parent]
    cr3 = {int_field(r, "pid"): int_field(r, "cr3") for r in of(records, "sched", "run")}
    assert cr3[child] == int_field(only(records, "cow", "fork"), "child-pml4") != cr3[parent]


def test_children_each_copy_the_one_page_they_write(finished):
    records = families(finished)["children"]
    forks = of(records, "cow", "fork")
    assert len(forks) == 3
    parent = int_field(forks[0], "pid")
    shared = int_field(of(records, "vm", "mmap", pid=str(parent))[0], "start")  # children.cpp: its first mmap
    for fork in forks:
        child = fork.fields["child"]
        usage = only(of(records, "cow", "usage", pid=child), "cow", "usage")
        assert int_field(usage, "faults") == 2, "its own two pages, on first touch"
        assert int_field(usage, "copied") == 1 and int_field(usage, "taken-over") == 0
        assert [int_field(r, "va") for r in of(records, "cow", "copied", pid=child)] == [shared], \
            "the one page the parent filled and the child wrote"
        code = only(of(records, "user", "exit", pid=child), "user", "exit").fields["code"]
        assert only(of(records, "sched", "wait", child=child), "sched", "wait").fields["code"] == code
    said_ = said(records, parent, "children")
    assert (said_["children"], said_["codes"], said_["word"]) == (3, 0b1110, 42)


def test_wait_refusals_are_the_errors_the_program_saw(finished):
    records = families(finished)["wait-rules"]
    parent, child = pids(records)
    refused = [(r.fields["field"], int(r.fields["returns"])) for r in of(records, "sched", "refused")]
    assert refused == [("children", -10), ("status", -14), ("status", -14), ("status", -14), ("children", -10)]
    got = said(records, parent, "no-child")
    assert (got["no-child"], got["kernel-pointer"], got["text"], got["unmapped"], got["again"]) == \
        (-10, -14, -14, -14, -10)
    assert (got["waited"], got["status"]) == (child, 3)
    text = [r for r in of(records, "vm", "region") if r.fields["rights"] == "r-x"]
    values = [int_field(r, "value") for r in of(records, "sched", "refused") if r.fields["field"] == "status"]
    assert values[0] >= USER_LIMIT
    assert any(int_field(t, "start") <= values[1] < int_field(t, "end") for t in text), "the program's own text"
    assert values[2] == 0x2000_0000_0000


def test_a_fork_out_of_frames_undoes_itself(held):
    records = families(held)["children"]
    only(records, "test", "fork runs out of frames")
    refused = only(records, "cow", "fork refused")
    assert refused.fields["reason"] == "out-of-frames" and int(refused.fields["returns"]) == -12
    assert int_field(refused, "used-before") == int_field(refused, "used-after")
    assert int_field(refused, "references-before") == int_field(refused, "references-after")
    parent = int_field(refused, "pid")
    # Part-way: the text and rodata leaves were already shared and counted
    # when the tables for the first mmap page ran out (fork_oom_test.h).
    assert int_field(refused, "at") == int_field(of(records, "vm", "mmap", pid=str(parent))[0], "start")
    assert said(records, parent, "fork refused") == {"returns": -12, "word": 42}
    assert of(records, "cow", "fork") == []


def test_the_held_child_shares_unwritten_frames_with_its_parent(held):
    records = families(held)["fork-cow"]
    parent, child = pids(records)
    hold = only(held, "kernel", "holding for monitor")
    registers = parse_info_registers(held.monitor["info registers"])
    assert int_field(hold, "pid") == child
    assert registers["CR3"] & ~0xFFF == int_field(hold, "cr3") == int_field(only(records, "cow", "fork"), "child-pml4")
    assert int_field(hold, "parent-pml4") == int_field(only(records, "user", "start"), "pml4")
    base = int_field(only(records, "vm", "mmap"), "start")
    pages = [base + i * PAGE for i in range(FORK_COW_PAGES)]

    tlb = {e.va: e for e in parse_info_tlb(held.monitor["info tlb"]) if e.user}
    child_leaves = {leaf.va: leaf for leaf in parse_page_table_leaves(held.monitor["page_table_leaves"]) if leaf.user}
    parent_leaves = {leaf.va: leaf for leaf in parse_page_table_leaves(held.monitor["parent_page_table_leaves"])
                     if leaf.user}
    assert all(va in tlb and va in child_leaves and va in parent_leaves for va in pages)
    copies = {int_field(r, "va"): r for r in of(records, "cow", "copied", pid=str(child))}
    for i, va in enumerate(pages):
        mine, theirs = child_leaves[va], parent_leaves[va]
        assert tlb[va].pa == mine.pa, "the walk is QEMU's own view"
        if i in CHILD_WRITES:  # copied: its own frame, writable; the parent's stays read-only
            assert mine.pa != theirs.pa and mine.pa == int_field(copies[va], "to")
            assert theirs.pa == int_field(copies[va], "from")
            assert tlb[va].writable and not mine.entry & COW_BIT
            assert not theirs.entry & RW and theirs.entry & COW_BIT
        else:  # still shared: one frame, read-only and copy-on-write in both
            assert mine.pa == theirs.pa, hex(va)
            assert not tlb[va].writable and not mine.entry & RW and not theirs.entry & RW
            assert mine.entry & COW_BIT and theirs.entry & COW_BIT
    # No frame writable in one of the two spaces while the other maps it.
    writable = {leaf.pa for leaf in list(child_leaves.values()) + list(parent_leaves.values()) if leaf.writable}
    child_frames = [leaf.pa for leaf in child_leaves.values()]
    parent_frames = [leaf.pa for leaf in parent_leaves.values()]
    assert not writable & (set(child_frames) & set(parent_frames))
    # The usage lines at the hold agree with the walks.
    for pid, leaves in ((child, child_leaves), (parent, parent_leaves)):
        usage = only(of(held.records, "cow", "usage", pid=str(pid)), "cow", "usage")
        assert int_field(usage, "pages") + int_field(only(records, "cow", "fork"), "borrowed") == len(leaves), pid


def test_no_frame_writable_anywhere_and_executable_in_the_held_child(held):
    leaves = parse_page_table_leaves(held.monitor["page_table_leaves"])
    check_frames(leaves, parse_info_tlb(held.monitor["info tlb"]), pat_in_force(held))
    assert all(leaf.va < USER_LIMIT for leaf in leaves if leaf.user)
