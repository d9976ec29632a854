"""Chapter 15: TLB shootdown — the kernel on every CPU, and their TLBs kept
consistent.

Five boots, each shared by every test that reads it: ``-smp 1`` (the book's
boot, read over the monitor), ``-smp 2``, ``-smp 4`` (read over the monitor
after ``ready``: every CPU's registers with ``info registers -a``, the TLB
and a walk of the tables for the protections), ``-smp 8`` with
``test.silent-cpu=5``, so one of the eight CPUs never gets its start-up IPIs
and the boot must name it and go on with the seven others, and ``-smp 3``
with ``test.stalled-cpu=1``, whose second CPU starts but never comes online,
so that the bring-up waits out its 10 s, and ``test.lazy-cpus-stay=hop``,
where the CPUs that keep hop's tables are never told to leave them when it
changes its pages, so that its check is seen to fail.

What the tests hold the kernel to: every CPU the MADT lists comes online (or
is named), each with its own stack above a guard page and its own GS base —
as QEMU itself reports each CPU's GS base, TR, CR3 and RSP; the trampoline
page is below 1 MiB and no table maps it any more; the stale read on CPU 1
after CPU 0 remapped and flushed only its own TLB, and a fresh read with the
shootdown; and for the scripted unmaps, IPI, acknowledgement and flush
counts that the test computes from the script line the kernel logged before
each step (initiator, CPUs with the space loaded, pages, threshold), never
from the result line itself; and chapter 14's processes, run on every CPU,
against a replay of which CPU keeps which process's tables.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot, page_table_leaves
from harness.log import int_field
from harness.monitor import parse_info_tlb
from harness.protections import check_protections, kernel_symbols

CHAPTER = "15-tlb-shootdown"
PAGE = 4096
KIB = 1024
SILENT_APIC_ID = 5
STALLED_APIC_ID = 1
KERNEL_STACK = 16 * KIB
MAX_PAGES_PER_ROUND = 32  # ShootdownBatch::kMaxPages
VALUES = (0x5EED0001, 0x5EED0002, 0x5EED0003)  # stale_read.cpp's frames, in order


@pytest.fixture(scope="module")
def one(built):
    result = harness.boot(inspected_boot(CHAPTER))
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def two(built):
    result = harness.boot(harness.BootConfig(CHAPTER, smp=2))
    harness.assert_outcome(result, "success")
    return result


# Each AP's kernel stack and #PF stack (cpu_startup.h's layout), read back
# after `ready` to see how deep the processes, faults and shootdowns went.
AP_BLOCKS = {index: 0xFFFF_F000_0010_0000 + (index - 1) * 0x20000 for index in (1, 2, 3)}
AP_STACK_TOPS = {(index, name): block + offset for index, block in AP_BLOCKS.items()
                 for name, offset in (("kernel", 0x19000), ("pf-ist", 0xA000))}


@pytest.fixture(scope="module")
def four(built):
    config = dataclasses.replace(inspected_boot(CHAPTER), smp=4,
                                 monitor_commands=("info registers", "info registers -a", "info tlb",
                                                   page_table_leaves,
                                                   *(f"x /2048gx {top - 0x4000:#x}" for top in AP_STACK_TOPS.values())))
    result = harness.boot(config)
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def eight_one_silent(built):
    result = harness.boot(harness.BootConfig(CHAPTER, smp=8, cmdline=f"test.silent-cpu={SILENT_APIC_ID}"))
    harness.assert_outcome(result, "success")
    return result


BOOTS = ["one", "two", "four", "eight_one_silent"]


@pytest.fixture(params=BOOTS)
def any_boot(request):
    return request.getfixturevalue(request.param)


def online(result) -> dict[int, harness.LogRecord]:
    """index -> its `cpu online` line."""
    lines = [r for r in result.records_for("smp") if r.event == "cpu online"]
    by_index = {int_field(r, "index"): r for r in lines}
    assert len(by_index) == len(lines), "a CPU came online twice"
    return by_index


def popcount(mask: int) -> int:
    return bin(mask).count("1")


def test_the_madt_lists_the_cpus_qemu_was_given(any_boot):
    madt = only(any_boot, "smp", "madt")
    listed = [r for r in any_boot.records_for("smp") if r.event == "cpu listed"]
    assert int_field(madt, "enabled") == any_boot.config.smp == len(listed)
    assert madt.fields["bsp-listed"] == "yes"
    assert int_field(madt, "xapic-entries") + int_field(madt, "x2apic-entries") >= any_boot.config.smp
    assert [int_field(r, "index") for r in listed] == list(range(len(listed)))
    ids = [int_field(r, "apic-id") for r in listed]
    assert len(set(ids)) == len(ids)
    assert ids[0] == int_field(madt, "bsp-apic-id")


def test_every_cpu_comes_online_or_is_named(any_boot):
    listed = {int_field(r, "index"): int_field(r, "apic-id")
              for r in any_boot.records_for("smp") if r.event == "cpu listed"}
    up = online(any_boot)
    silent = {int_field(r, "index"): r for r in any_boot.records_for("smp") if r.event == "cpu silent"}
    assert set(up) | set(silent) == set(listed) and not set(up) & set(silent)
    for index, record in up.items():
        assert int_field(record, "apic-id") == listed[index], "the CPU that answered is the one started"
        assert record.fields["role"] == ("bsp" if index == 0 else "ap")
    summary = only(any_boot, "smp", "cpus")
    assert int_field(summary, "online") == len(up)
    assert int_field(summary, "expected") == len(listed)
    assert any_boot.records[-1].event == "ready" or only(any_boot, "kernel", "ready")


def test_a_silent_cpu_is_named_and_the_boot_goes_on(eight_one_silent):
    silent = only(eight_one_silent, "smp", "cpu silent")
    assert silent.level == "WARN"
    assert int_field(silent, "apic-id") == SILENT_APIC_ID
    assert silent.fields["stage"] == "0" and silent.fields["entered"] == "no"
    assert "INIT-SIPI-SIPI" in silent.fields["rule"]
    # It got its INIT and no SIPI (test.silent-cpu): the bring-up waited its
    # whole second for the CPU to start, by the HPET, before naming it.
    assert int_field(silent, "waited-s") == 1
    hook = only(eight_one_silent, "smp", "keeping a cpu silent on request")
    assert hook.line_number < silent.line_number and int_field(hook, "apic-id") == SILENT_APIC_ID
    # And the next CPU still came up, on the same trampoline.
    after = [r for r in online(eight_one_silent).values() if r.line_number > silent.line_number]
    assert after, "no CPU came online after the silent one"
    summary = only(eight_one_silent, "smp", "cpus")
    assert (int_field(summary, "online"), int_field(summary, "expected")) == (7, 8)
    only(eight_one_silent, "kernel", "ready")


def test_each_ap_has_its_own_stack_above_a_guard_and_its_own_gs(any_boot):
    up = online(any_boot)
    stacks = {int_field(r, "index"): r for r in any_boot.records_for("smp") if r.event == "cpu stacks"}
    assert set(stacks) == set(up) - {0}
    for index, record in stacks.items():
        top, guard = int_field(record, "stack-top"), int_field(record, "guard")
        assert guard == top - KERNEL_STACK - PAGE
        rsp = int_field(up[index], "stack")
        assert top - KERNEL_STACK <= rsp < top, "the AP runs on its own stack"
    # The GS bases are the PerCpu array's elements, at one stride, from the symbol.
    symbols = kernel_symbols(CHAPTER)
    per_cpu = next(address for name, address in symbols.items() if "g_cpus" in name)
    bases = {index: int_field(r, "gs") for index, r in up.items()}
    assert bases[0] == per_cpu
    if len(bases) > 1:
        first = min(i for i in bases if i)
        stride = (bases[first] - per_cpu) // first
        assert stride >= 64 and stride % 64 == 0
        assert all(base == per_cpu + index * stride for index, base in bases.items())
    cr3 = {r.fields["cr3"] for r in up.values()}
    assert len(cr3) == 1, "every CPU runs on the kernel's tables"


def registers_by_cpu(text: str) -> dict[int, str]:
    """``info registers -a``: CPU index -> that CPU's block."""
    parts = re.split(r"^CPU#(\d+)\s*$", text, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_qemu_sees_each_cpu_on_its_own_gs_tss_and_stack(four):
    """QEMU's own registers of each CPU, after ready: the GS base, TR and RSP
    the kernel logged for each AP, the BSP's GS base too (chapter 12's
    user-mode setup reloads the GDT after this chapter's phases, and a GDT
    load keeps the base), and the kernel's CR3 everywhere."""
    blocks = registers_by_cpu(four.monitor["info registers -a"])
    up = online(four)
    assert sorted(blocks) == sorted(up) == [0, 1, 2, 3]
    stacks = {int_field(r, "index"): r for r in four.records_for("smp") if r.event == "cpu stacks"}
    for index, record in up.items():
        block = blocks[index]
        gs_base = int(re.search(r"^GS =\w+ ([0-9a-f]+)", block, re.M)[1], 16)
        tr = re.search(r"^TR =(\w+) ([0-9a-f]+)", block, re.M)
        cr3 = int(re.search(r"CR3=([0-9a-f]+)", block)[1], 16)
        assert int(tr[1], 16) == int_field(record, "tr") == 0x18
        assert cr3 == int_field(record, "cr3")
        assert gs_base == int_field(record, "gs")
        if index:
            rsp = int(re.search(r"RSP=([0-9a-f]+)", block)[1], 16)
            top = int_field(stacks[index], "stack-top")
            assert top - KERNEL_STACK <= rsp < top, f"CPU {index} idles on its own stack"
            tss = int(tr[2], 16)
            assert per_cpu_range(four, index)[0] <= tss < per_cpu_range(four, index)[1], "its own TSS"
    assert len({int(re.search(r"^TR =\w+ ([0-9a-f]+)", b, re.M)[1], 16) for b in blocks.values()}) == 4


def per_cpu_range(result, index: int) -> tuple[int, int]:
    bases = sorted(int_field(r, "gs") for r in online(result).values())
    stride = bases[1] - bases[0]
    start = bases[0] + index * stride
    return start, start + stride


def test_the_trampoline_is_below_1mib_and_mapped_nowhere_after(four):
    reserved = only(four, "smp", "trampoline reserved")
    installed = only(four, "smp", "trampoline installed")
    page, pml4 = int_field(reserved, "page"), int_field(reserved, "pml4")
    assert 0 < page < 1 << 20 and page % PAGE == 0
    assert int_field(installed, "sipi-vector") == page // PAGE
    assert pml4 + PAGE <= 1 << 32, "CR3 is loaded from 32-bit code"
    assert reserved.line_number < only(four, "paging", "phase map_kernel_image").line_number, "reserved first"
    retired = only(four, "smp", "trampoline retired")
    assert int_field(retired, "page") == page and retired.fields["identity"] == "absent", "its own tables walked"
    assert retired.fields["identity-before"] == "at-page", "the walk reached the page before it went"
    assert retired.line_number > max(r.line_number for r in online(four).values()), "after the last AP"
    tlb = parse_info_tlb(four.monitor["info tlb"])
    assert not [e for e in tlb if e.va < 1 << 47], "the kernel's lower half is empty"


KERNEL_STACKS = 0xFFFF_F000_0000_0000  # layout::kKernelStacksBase, 1 GiB


def test_qemu_sees_each_aps_stacks_mapped_above_unmapped_guards(four):
    """From QEMU's view of the kernel's tables: each AP's kernel stack and its
    four IST stacks mapped writable and no-execute in 4 KiB pages, the page
    below each absent."""
    tlb = {e.va: e for e in parse_info_tlb(four.monitor["info tlb"])}
    assert not [va for va, e in tlb.items() if e.huge and KERNEL_STACKS <= va < KERNEL_STACKS + (1 << 30)]
    stacks = [r for r in four.records_for("smp") if r.event == "cpu stacks"]
    assert len(stacks) == 3
    for record in stacks:
        tops = [int_field(record, key) for key in ("stack-top", "df-ist", "pf-ist", "nmi-ist", "mc-ist")]
        for top in tops:
            pages = range(top - KERNEL_STACK, top, PAGE)
            assert all(va in tlb and tlb[va].writable and tlb[va].no_execute for va in pages), hex(top)
            assert top - KERNEL_STACK - PAGE not in tlb, f"the guard below {top:#x} is mapped"


def test_the_stale_read_is_shown_then_gone(any_boot):
    if len(online(any_boot)) < 2:
        assert only(any_boot, "tlb", "stale read skipped").fields["rule"]
        return
    stale = only(any_boot, "tlb", "stale read")
    assert stale.fields["protocol"] == "local-invlpg" and int_field(stale, "cpu") == 1
    assert (int_field(stale, "before"), int_field(stale, "expected"), int_field(stale, "got")) == \
        (VALUES[0], VALUES[1], VALUES[0])
    fresh = only(any_boot, "tlb", "fresh read")
    assert fresh.fields["protocol"] == "shootdown" and fresh.fields["va"] == stale.fields["va"]
    assert (int_field(fresh, "before"), int_field(fresh, "got")) == (VALUES[1], VALUES[2])
    assert int_field(fresh, "ipis") == 1, "one IPI: CPU 1 is the only other CPU with the space loaded"


def expected_counts(script: harness.LogRecord) -> dict[str, int]:
    """What the protocol predicts for one logged step (shootdown_batch.h's rules)."""
    initiator, loaded = int_field(script, "initiator"), int_field(script, "loaded")
    pages, threshold = int_field(script, "pages"), int_field(script, "threshold")
    targets = popcount(loaded & ~(1 << initiator))
    rounds = -(-pages // MAX_PAGES_PER_ROUND)
    full = pages > threshold
    return {"ipis": targets * rounds, "acks": targets * rounds, "remote-invlpg": 0 if full else targets * pages,
            "remote-full": targets * rounds if full else 0, "rounds": rounds, "frames-freed": pages,
            "stale-reads": 0}


def test_ipi_and_flush_counts_are_what_the_protocol_predicts(any_boot):
    scripts = [r for r in any_boot.records_for("tlb") if r.event == "script"]
    results = {int_field(r, "step"): r for r in any_boot.records_for("tlb") if r.event == "shootdown"}
    assert [int_field(s, "step") for s in scripts] == sorted(results) == [1, 2, 3, 4, 5]
    for script in scripts:
        got = results[int_field(script, "step")]
        assert {key: int_field(got, key) for key in expected_counts(script)} == expected_counts(script), script.message


def test_the_script_loads_the_space_where_it_says(any_boot):
    """shootdown_script.h's table, from the CPUs that came online."""
    up = sorted(online(any_boot))
    everyone = sum(1 << i for i in up)
    last = up[-1]
    even = sum(1 << i for i in up if i % 2 == 0) | 1 << last
    wanted = [(0, everyone, 1), (0, everyone, 4), (0, everyone, 12), (last, even, 3), (0, 1, 2)]
    scripts = [r for r in any_boot.records_for("tlb") if r.event == "script"]
    assert [(int_field(s, "initiator"), int_field(s, "loaded"), int_field(s, "pages")) for s in scripts] == wanted
    # Step 3 is the one above the threshold: the full flush is exercised on every machine.
    assert int_field(scripts[2], "pages") > int_field(scripts[2], "threshold") >= int_field(scripts[1], "pages")


def test_batching_sends_one_ipi_per_cpu_not_per_page(any_boot):
    batching = only(any_boot, "tlb", "batching")
    others = len(online(any_boot)) - 1
    assert int_field(batching, "cpus") == others + 1
    assert int_field(batching, "ipis-batched") == others
    assert int_field(batching, "ipis-per-page") == others * int_field(batching, "pages")


def test_protections_hold_on_every_cpu_count(one, four):
    check_protections(one, CHAPTER)
    check_protections(four, CHAPTER)


def test_the_frames_balance_after_the_stale_read_and_the_script(any_boot):
    """Each demonstration gives back every page and table it took, counted by
    the allocator before and after (the stale read only runs with a second
    CPU online)."""
    back = {r.fields["after"]: r for r in any_boot.records_for("tlb") if r.event == "frames back"}
    expected = {"script"} | ({"stale-read"} if len(online(any_boot)) > 1 else set())
    assert set(back) == expected
    for r in back.values():
        assert int_field(r, "used-before") == int_field(r, "used-after") and r.fields["balanced"] == "yes", str(r)
    assert only(any_boot, "user", "all programs done").fields["balanced"] == "yes"


def test_the_readmes_four_cpu_lines_are_this_boots(four, eight_one_silent):
    """The book's quoted boot has one CPU; the README quotes `make run
    CH=15-tlb-shootdown SMP=4` in plain text blocks (and the silent CPU from
    SMP=8), so those lines are held against these boots here."""
    text = (harness.REPO_ROOT / "chapters" / CHAPTER / "README.md").read_text()
    quoted = [line for block in re.findall(r"^```text\n(.*?)^```", text, re.S | re.M)
              for line in block.splitlines() if line.startswith("[")]
    assert len(quoted) > 10
    booted = set(four.log.splitlines()) | set(eight_one_silent.log.splitlines())
    missing = [line for line in quoted if line not in booted]
    assert not missing, "README lines no boot printed (update the README):\n" + "\n".join(missing)


# ---- chapter 14's processes on every CPU ------------------------------------

PROGRAMS = {"children": 0, "fork-cow": 0, "hop": 0, "load-gs": 0}  # name -> exit code of its first process


@dataclasses.dataclass
class LazyModel:
    """Which CPU keeps which process's tables loaded, replayed from the log
    by the rules process_cpus.h states: a turn's CPU loads the tables (or
    finds them still loaded), an AP keeps them after a suspended turn, the
    BSP and the CPU of an exiting turn go back to the kernel's, and a CPU
    told to leave (a `lazy cpus left` target) holds nothing any more."""

    loaded: dict[int, int] = dataclasses.field(default_factory=dict)  # cpu -> cr3
    turn: tuple[int, int, int] | None = None  # (pid, cpu, cr3) of the turn in progress
    cr3_of: dict[int, int] = dataclasses.field(default_factory=dict)  # pid -> cr3

    def holders(self, cr3: int) -> set[int]:
        return {cpu for cpu, held in self.loaded.items() if held == cr3}

    def end_turn(self, exited: bool) -> None:
        if self.turn is None:
            return
        _, cpu, _ = self.turn
        if cpu == 0 or exited:
            self.loaded.pop(cpu, None)
        self.turn = None

    def start_turn(self, record) -> str:
        """The turn's tables, as the kernel should say: kept or loaded."""
        self.end_turn(exited=False)
        pid, cpu, cr3 = int_field(record, "pid"), int_field(record, "cpu"), int_field(record, "cr3")
        self.cr3_of[pid] = cr3
        kept = self.loaded.get(cpu) == cr3
        self.loaded[cpu] = cr3
        self.turn = (pid, cpu, cr3)
        return "kept" if kept else "loaded"


# The lines after which a process's changed leaves are flushed: the flush,
# and with it the lazy CPUs' leaving, comes before the line.
def invalidates(record) -> bool:
    key = (record.subsystem, record.event)
    return (key == ("vm", "munmap") and int_field(record, "pages") > 0
            or key == ("vm", "mprotect") and int_field(record, "changed") > 0
            or key == ("cow", "fork") and int_field(record, "write-protected") > 0
            or key in {("cow", "copied"), ("cow", "taken-over")})


def replay_turns(result) -> tuple[LazyModel, dict[str, int]]:
    """Checks every turn's CPU and tables and every `lazy cpus left` line
    against the model; returns it and what it counted."""
    model = LazyModel()
    seen = {"turns": 0, "kept": 0, "left-invalidate": 0, "left-exit": 0, "ipis": 0}
    for record in result.records:
        key = (record.subsystem, record.event)
        if key == ("sched", "run"):
            expected = model.start_turn(record)
            assert record.fields["tables"] == expected, record.text
            seen["turns"] += 1
            seen["kept"] += expected == "kept"
        elif key == ("cow", "usage") and model.turn and model.turn[0] == int_field(record, "pid"):
            model.end_turn(exited=True)  # end_task's first line: the turn ended in exit or a kill
        elif key == ("tlb", "lazy cpus left"):
            cr3, initiator = int_field(record, "cr3"), int_field(record, "initiator")
            why = record.fields["for"]
            if why == "exit":
                assert model.turn is None and initiator == 0, "the scheduler's CPU gives the tables back"
            else:
                assert model.turn is not None and initiator == model.turn[1], "the CPU running the process"
                assert cr3 == model.turn[2], "a process changes its own tables"
            expected = model.holders(cr3) - {initiator}
            targets = int_field(record, "targets")
            assert targets == sum(1 << cpu for cpu in expected), (record.text, model.loaded)
            assert int_field(record, "ipis") == len(expected)
            for cpu in expected:
                del model.loaded[cpu]
            seen[f"left-{why}"] += 1
            seen["ipis"] += len(expected)
        elif invalidates(record) or key == ("user", "exit"):
            pid = int_field(record, "pid")
            cr3 = model.cr3_of[pid]
            initiator = 0 if key == ("user", "exit") else model.turn[1]
            if key == ("user", "exit"):
                model.end_turn(exited=True)
            assert model.holders(cr3) <= {initiator}, \
                f"{record.text}: CPUs {sorted(model.holders(cr3) - {initiator})} still hold the tables"
    return model, seen


def test_chapter_14s_programs_run_to_their_end_and_their_frames_balance(any_boot):
    firsts = {r.fields["name"]: int_field(r, "pid") for r in any_boot.records_for("user") if r.event == "start"}
    assert set(firsts) == set(PROGRAMS)
    exits = {int_field(r, "pid"): r for r in any_boot.records_for("user") if r.event == "exit"}
    for name, code in PROGRAMS.items():
        assert exits[firsts[name]].fields["end"] == "exit" and int_field(exits[firsts[name]], "code") == code, name
    families = [r for r in any_boot.records_for("cow") if r.event == "family done"]
    assert {r.fields["name"] for r in families} == set(PROGRAMS)
    for family in families:
        assert family.fields["balanced"] == "yes" and int_field(family, "references") == 0, family.text
        assert int_field(family, "used-before") == int_field(family, "used-after")
    audits = [r for r in any_boot.records_for("cow") if r.event == "audit"]
    assert audits and all(r.fields["ok"] == "yes" for r in audits)
    written = [r.fields["text"] for r in any_boot.records_for("user") if r.event == "write" and r.fields["name"] == "hop"]
    assert written[-1].strip('"') == "hop rounds=2 stale=0"


def test_each_turn_runs_on_the_next_cpu_and_processes_move(any_boot):
    cpus = sorted(online(any_boot))
    runs = [r for r in any_boot.records_for("sched") if r.event == "run"]
    order = [int_field(r, "cpu") for r in runs]
    for before, after in zip(order, order[1:]):  # round robin over the CPUs online
        assert after == cpus[(cpus.index(before) + 1) % len(cpus)]
    assert set(order) == set(cpus), "every CPU ran a turn"
    if len(cpus) > 1:
        by_pid: dict[int, set[int]] = {}
        for r in runs:
            by_pid.setdefault(int_field(r, "pid"), set()).add(int_field(r, "cpu"))
        assert max(len(c) for c in by_pid.values()) == len(cpus), "a process ran on every CPU"


def test_lazy_cpus_leave_before_a_change_or_an_exit_lands(any_boot):
    """Replays the log: every `lazy cpus left` targets exactly the other
    CPUs that keep the process's tables loaded, and no munmap, mprotect,
    fork, copy-on-write fault or exit completes while another CPU keeps
    them. With one CPU there is nobody to tell."""
    _, seen = replay_turns(any_boot)
    if len(online(any_boot)) == 1:
        assert seen["left-invalidate"] == seen["left-exit"] == seen["kept"] == 0
    else:
        assert seen["left-invalidate"] > 0 and seen["kept"] > 0, seen
    if any_boot.config.smp == 4:  # here an AP still keeps an ending process's tables, twice
        assert seen["left-exit"] > 0, seen


@pytest.fixture(scope="module")
def three_cpus_one_stalled_one_lazy(built):
    """Three CPUs, the second stalled on its way up: the BSP and the third run
    the programs."""
    result = harness.boot(harness.BootConfig(CHAPTER, smp=3, cmdline=f"test.stalled-cpu={STALLED_APIC_ID} "
                                             "test.lazy-cpus-stay=hop", monitor_commands=("info registers -a",)))
    harness.assert_outcome(result, "success")
    return result


def test_a_cpu_that_stalls_after_starting_is_named_after_10s(three_cpus_one_stalled_one_lazy):
    """test.stalled-cpu: the CPU reaches the kernel (entered, and it says it
    stopped itself) and stops before it is online; the bring-up waits the
    whole 10 s a started CPU gets, by the HPET, sends it INIT, names it and
    starts the next CPU on the same trampoline. QEMU shows the stalled CPU
    reset by that INIT: paging off, CR3 and CR4 clear."""
    boot = three_cpus_one_stalled_one_lazy
    silent = only(boot, "smp", "cpu silent")
    assert (silent.level, int_field(silent, "apic-id"), silent.fields["entered"]) == ("WARN", STALLED_APIC_ID, "yes")
    assert 10 <= int_field(silent, "waited-s") <= 11 and boot.elapsed >= 10
    hook = only(boot, "smp", "stalled a cpu on request")
    assert int_field(hook, "apic-id") == STALLED_APIC_ID and hook.fields["stopped-itself"] == "yes"
    assert [i for i, r in online(boot).items() if r.line_number > silent.line_number] == [2], \
        "the next CPU came up on the same trampoline"
    summary = only(boot, "smp", "cpus")
    assert (int_field(summary, "online"), int_field(summary, "expected")) == (2, 3)
    stalled = registers_by_cpu(boot.monitor["info registers -a"])[1]
    cr0 = int(re.search(r"CR0=([0-9a-f]+)", stalled)[1], 16)
    assert not cr0 & 1 << 31, "INIT turned its paging off"
    assert int(re.search(r"CR3=([0-9a-f]+)", stalled)[1], 16) == 0 == int(re.search(r"CR4=([0-9a-f]+)", stalled)[1], 16)


def test_without_the_leave_request_hop_reads_a_freed_frame(three_cpus_one_stalled_one_lazy):
    """The check can fail: with `test.lazy-cpus-stay=hop` the AP keeps hop's
    old translations, and its check reads the old frame — the value the
    spread wrote there — instead of a fresh page's 0. (It relies, as the
    stale reads of chapters 07 and 15 do, on TCG keeping a translation until
    it is invalidated.)"""
    boot = three_cpus_one_stalled_one_lazy
    assert only(boot, "tlb", "lazy cpus keep their tables on request").fields["program"] == "hop"
    first = {r.fields["name"]: int_field(r, "pid") for r in boot.records_for("user") if r.event == "start"}
    left = [r for r in boot.records_for("tlb") if r.event == "lazy cpus left"]
    assert all(r.fields["for"] == "exit" for r in left if int_field(r, "pid") == first["hop"]), \
        "only hop's exit sends the CPUs off its tables"
    reads = [r.fields["text"].strip('"') for r in boot.records_for("user")
             if r.event == "write" and r.fields["name"] == "hop" and "read=" in r.fields["text"]]
    assert len(reads) == 2
    stale = [text for text in reads if not text.endswith("read=0x0")]
    assert stale, reads
    for text in stale:  # the spread's last value for that page: 0x1000 * (round + 1) + 9
        round_ = int(re.search(r"round=(\d+)", text)[1])
        assert text.endswith(f"read={hex(0x1000 * (round_ + 1) + 9)}")
    hop_exit = next(r for r in boot.records_for("user") if r.event == "exit" and int_field(r, "pid") == first["hop"])
    assert int_field(hop_exit, "code") == 1
    only(boot, "kernel", "ready")


# SYSCALL's MSRs as chapter 12 defines them (SDM Vol. 3A, 5.8.8): STAR's
# SYSRET base 0x28 and kernel CS 0x08; FMASK clears CF PF AF ZF SF TF IF DF OF
# IOPL NT RF AC ID; LSTAR is the entry stub's address in the kernel's symbols.
STAR = 0x28 << 48 | 0x08 << 32
FMASK = sum(1 << bit for bit in (0, 2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 18, 21))


def test_every_ap_is_ready_for_ring3_as_the_bsp_is(any_boot):
    """Each AP read back its own SYSCALL MSRs, control registers, EFER, PAT
    and GDT: the values chapter 12 writes, the entry stub's address, and the
    BSP's CR0, CR4 and EFER."""
    lstar = kernel_symbols(CHAPTER)["user_syscall_entry"]
    bsp = only(any_boot, "cpu", "syscall")
    assert (int_field(bsp, "star"), int_field(bsp, "lstar"), int_field(bsp, "fmask")) == (STAR, lstar, FMASK)
    aps = sorted(index for index in online(any_boot) if index)
    ring3 = {int_field(r, "index"): r for r in any_boot.records_for("smp") if r.event == "cpu ring3"}
    assert sorted(ring3) == aps
    for record in ring3.values():
        assert (int_field(record, "star"), int_field(record, "lstar"), int_field(record, "fmask")) == (STAR, lstar, FMASK)
        assert record.fields["sce"] == "yes" and int_field(record, "efer") & 1
        assert (int_field(record, "gdt-entries"), int_field(record, "user-cs")) == (8, 0x3B)
        assert record.fields["smap"] == record.fields["smep"] == "yes" and record.fields["osfxsr"] == "yes"
    assert len({(r.fields["cr0"], r.fields["cr4"], r.fields["efer"], r.fields["pat"]) for r in ring3.values()}) <= 1
    assert int_field(only(any_boot, "smp", "ring3"), "cpus") == len(aps) + 1


def test_qemu_sees_syscall_enabled_and_the_kernels_cr3_on_every_cpu(four):
    """After every program ended: EFER.SCE on each CPU as QEMU reports it,
    and no CPU kept a process's (freed) tables in CR3."""
    blocks = registers_by_cpu(four.monitor["info registers -a"])
    ring3 = {int_field(r, "index"): r for r in four.records_for("smp") if r.event == "cpu ring3"}
    kernel_cr3 = {int(re.search(r"CR3=([0-9a-f]+)", b)[1], 16) for b in blocks.values()}
    assert kernel_cr3 == {int_field(r, "cr3") for r in online(four).values()}
    for index, block in blocks.items():  # the BSP's too: the APs' logged values are the BSP's
        efer = int(re.search(r"EFER=([0-9a-f]+)", block)[1], 16)
        cr0 = int(re.search(r"CR0=([0-9a-f]+)", block)[1], 16)
        cr4 = int(re.search(r"CR4=([0-9a-f]+)", block)[1], 16)
        assert efer & 1, f"CPU {index}: EFER.SCE"
        assert (efer, cr0, cr4) == (int_field(ring3[1], "efer"), int_field(ring3[1], "cr0"), int_field(ring3[1], "cr4"))


def test_load_gs_makes_its_calls_on_every_cpu(any_boot):
    """load-gs loaded GS itself (base 0) and then made its calls, a ring-3
    page fault and a munmap (which asks which CPU it runs on) on one turn per
    CPU: the kernel's GS base held through every entry, and the program's
    selector followed it from CPU to CPU."""
    first = only(any_boot, "user", "start", name="load-gs")
    pid = int_field(first, "pid")
    cpus = {int_field(r, "cpu") for r in any_boot.records_for("sched") if r.event == "run" and int_field(r, "pid") == pid}
    assert cpus == set(online(any_boot))
    munmaps = [r for r in any_boot.records_for("vm") if r.event == "munmap" and int_field(r, "pid") == pid]
    assert len(munmaps) == 8 and all(int_field(r, "pages") == 1 for r in munmaps)
    written = [r.fields["text"].strip('"') for r in any_boot.records_for("user")
               if r.event == "write" and int_field(r, "pid") == pid]
    assert written == ["load-gs loaded gs=0x33 base=0", "load-gs turns=8 good=8 gs-after=0x33"]


def test_the_screen_console_follows_every_turn(any_boot):
    """A turn logs only once its CPU has the process's tables loaded and the
    console knows they share the kernel's half: no CPU's line is lost to the
    screen, whatever tables it kept since its last turn."""
    lost = [r.text for r in any_boot.records_for("screen") if r.event == "serial only"]
    assert not lost


def test_no_ap_stack_came_near_its_guard(four):
    """The stacks are zeroed when mapped; read back through QEMU after every
    program ran, the lowest word ever written on each AP's kernel stack and
    #PF stack shows how deep it went: at least a quarter of each is left."""
    stacks = [r for r in four.records_for("smp") if r.event == "cpu stacks"]
    logged = {(int_field(r, "index"), "kernel"): int_field(r, "stack-top") for r in stacks}
    logged |= {(int_field(r, "index"), "pf-ist"): int_field(r, "pf-ist") for r in stacks}
    assert logged == AP_STACK_TOPS
    for (index, name), top in AP_STACK_TOPS.items():
        dump = four.monitor[f"x /2048gx {top - KERNEL_STACK:#x}"]
        used_words = [int(m[1], 16) + 8 * i for m in re.finditer(r"^([0-9a-f]+):((?: 0x[0-9a-f]+)+)", dump, re.M)
                      for i, word in enumerate(m[2].split()) if int(word, 16)]
        assert used_words, f"CPU {index}'s {name} stack was never used"
        depth = top - min(used_words)
        assert depth <= KERNEL_STACK * 3 // 4, f"CPU {index}'s {name} stack used {depth} of {KERNEL_STACK} bytes"
