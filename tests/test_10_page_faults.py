"""Chapter 10: IST stacks with guard pages, a GDT with a TSS, an IDT for all
32 exceptions, and decoded fault reports.

The plain boot, the one the chapter's page quotes, read over the monitor once
the kernel has written its exit code: the kernel's GDT, IDT and TSS (TR) are
where QEMU's ``info registers`` says, TR is busy, every stack page is mapped
RW+NX and every guard page is absent in ``info tlb``, and nothing is W+X. Then one boot with
``test.fault=all``: every deliberate fault in turn under a recovery point, each
with its decoded report, then the failure code — never a reset (a triple fault
makes QEMU exit without the exit device, which the harness calls ``reset``)
and never a hang. The double fault is also booted alone, the way a reader runs
it, where its report is the kernel's last word. Addresses are held against
the kernel's own symbols (``nm``) and the faulting RIP against the function
that faulted (``addr2line -f``).
"""

from __future__ import annotations

import re
import subprocess
import time
from functools import cache

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot
from harness.log import int_field, size_field
from harness.monitor import parse_info_tlb
from harness.protections import check_protections

CHAPTER = "10-page-faults"
PAGE = 4096
WINDOW_BASE = 0xFFFF_8000_0000_0000
STACKS_BASE = 0xFFFF_F000_0000_0000
STACK_SIZE = 16 * 1024
# name -> (IST slot, vector)
IST_STACKS = {"df-ist": (1, 8), "pf-ist": (2, 14), "nmi-ist": (3, 2), "mc-ist": (4, 18)}
REGISTERS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"] + [f"r{n}" for n in range(8, 16)]


@cache
def symbols() -> dict[str, int]:
    """Demangled symbol name (without parameters) -> address, from nm."""
    out = subprocess.run(["nm", "-C", str(harness.chapter_kernel(CHAPTER))], capture_output=True, text=True,
                         check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            table[parts[2].split("(")[0]] = int(parts[0], 16)
    return table


def function_of(address: int) -> str:
    """The function holding `address`, by the kernel's debug info."""
    out = subprocess.run(["addr2line", "-f", "-C", "-e", str(harness.chapter_kernel(CHAPTER)), hex(address)],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].split("(")[0]


# ---------------------------------------------------------------------------
# The plain boot, read after its exit code
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished(built):
    # The plain boot, which the chapter's page quotes; the readings include
    # the TSS descriptor as it is in memory (harness.inspections.tss_descriptor).
    result = harness.boot(inspected_boot(CHAPTER))
    harness.assert_outcome(result, "success")
    return result


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_ready_without_warnings(finished):
    harness.assert_ready_without_warnings(finished)


def test_gdt_idt_and_tr_are_where_qemu_sees_them(finished):
    regs = finished.monitor["info registers"]
    gdt = only(finished, "cpu", "gdt")
    idt = only(finished, "cpu", "idt")
    tss = only(finished, "cpu", "tss")
    tr = only(finished, "cpu", "tr")
    m = re.search(r"GDT=\s+([0-9a-f]+) ([0-9a-f]+)", regs)
    assert m and (int(m[1], 16), int(m[2], 16)) == (int_field(gdt, "base"), int_field(gdt, "limit")) == \
        (int_field(gdt, "base"), 5 * 8 - 1)
    m = re.search(r"IDT=\s+([0-9a-f]+) ([0-9a-f]+)", regs)
    assert m and (int(m[1], 16), int(m[2], 16)) == (int_field(idt, "base"), 32 * 16 - 1)
    assert int_field(idt, "vectors") == 32
    # TR =0018 <base> <limit> <flags>: the TSS's selector, base and 104-byte limit; type 0xB, busy.
    m = re.search(r"TR =([0-9a-f]{4}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)", regs)
    assert m, regs
    assert int(m[1], 16) == int_field(tr, "selector") == int_field(gdt, "tss-selector") == 0x18
    assert int(m[2], 16) == int_field(tss, "base") and int(m[3], 16) == int_field(tss, "limit") == 0x67
    assert int(m[4], 16) & 0x8F00 in (0x8900, 0x8B00)  # present, a 64-bit TSS (QEMU caches it as LTR read it)
    # In memory, LTR has set the busy bit: type 9 became 0xB, as the kernel read it back.
    words = [int(w, 16) for w in re.findall(r":\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)", finished.monitor["tss_descriptor"])[0]]
    assert (words[0] >> 40) & 0xF == 0xB and words[0] >> 47 & 1
    assert (words[0] >> 16 & 0xFF_FFFF) | (words[0] >> 56) << 24 | words[1] << 32 == int_field(tss, "base")
    assert tr.fields["busy"] == "yes" and int_field(tr, "type") == 0xB
    assert int_field(tss, "io-map-base") == 0x68


def test_tss_ist_slots_hold_each_stack_top(finished):
    tss = only(finished, "cpu", "tss")
    stacks = {r.fields["name"]: r for r in finished.records_for("paging") if r.event == "stack"}
    ists = {r.fields["stack"]: r for r in finished.records_for("cpu") if r.event == "ist"}
    assert set(stacks) == set(ists) == set(IST_STACKS)
    for name, (slot, vector) in IST_STACKS.items():
        s, i = stacks[name], ists[name]
        assert (int_field(s, "ist"), int_field(s, "vector")) == (slot, vector) == (int_field(i, "slot"), int_field(i, "vector"))
        assert int_field(tss, f"ist{slot}") == int_field(s, "top") == int_field(i, "top")
        assert int_field(s, "va") == int_field(s, "guard") + PAGE and size_field(s, "size") == STACK_SIZE
        assert int_field(s, "top") == int_field(s, "va") + STACK_SIZE and int_field(s, "top") % 16 == 0
        assert STACKS_BASE <= int_field(s, "guard") < STACKS_BASE + (1 << 30)
    assert not [k for k in tss.fields if k in ("ist5", "ist6", "ist7")]


def test_stacks_mapped_rw_nx_and_guards_absent_in_qemu(finished):
    tlb = {e.va & (1 << 64) - 1: e for e in parse_info_tlb(finished.monitor["info tlb"])}
    phase = only(finished, "paging", "phase map_kernel_stacks")
    assert int_field(phase, "stacks") == int_field(phase, "guards") == 4
    assert int_field(phase, "pages-4k") == 4 * STACK_SIZE // PAGE and size_field(phase, "bytes") == 4 * STACK_SIZE
    for r in (r for r in finished.records_for("paging") if r.event == "stack"):
        assert int_field(r, "guard") not in tlb, f"guard of {r.fields['name']} is mapped"
        for va in range(int_field(r, "va"), int_field(r, "top"), PAGE):
            e = tlb.get(va)
            assert e and e.writable and e.no_execute and not e.user and not e.huge, hex(va)
    # The boot stack's guard too, and only the stacks in the stacks' region.
    guard = symbols()["__boot_stack_guard"]
    assert guard not in tlb
    in_region = sorted(va for va in tlb if STACKS_BASE <= va < STACKS_BASE + (1 << 30))
    assert len(in_region) == 4 * STACK_SIZE // PAGE


def test_nothing_is_writable_and_executable(finished):
    wx = [hex(e.va) for e in parse_info_tlb(finished.monitor["info tlb"]) if e.writable and not e.no_execute]
    assert not wx


# ---------------------------------------------------------------------------
# The deliberate faults: all in one boot, each under a recovery point
# ---------------------------------------------------------------------------

#: Every test.fault= value, in the order test.fault=all tries them.
FAULTS = ["null", "write-text", "write-rodata", "exec-data", "stack-overflow", "non-canonical", "ist-guard",
          "window-hole", "double-fault"]


@cache
def every_fault():
    """One boot with test.fault=all: each fault through the real handler, then the failure code."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.fault=all", timeout=60))
    # "failure" is exit status 35, written by the kernel: not "reset" (a triple
    # fault), not "timeout" (a hang), not "panic-timeout".
    harness.assert_outcome(result, "failure")
    return result


@cache
def single_fault(what: str):
    """test.fault=WHAT alone, as a reader runs it: the report is the kernel's last word."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline=f"test.fault={what}", timeout=60))
    harness.assert_outcome(result, "failure")
    return result


def segments(result) -> dict[str, list]:
    """test.fault value -> its records, from its request line up to the next one (or the summary)."""
    return harness.sweep_segments(result.records, "faulting on request", "test.fault", "fault", until="every fault tried")


def fault_records(what: str) -> list:
    return segments(every_fault())[what]


def report_of(records, recovered: bool = True):
    """The report line, the frame line and the two register lines, right after
    the request (and the gate removal, for the double fault): at ERROR and
    followed by the resume (and the gate's return) when a recovery point
    caught the fault, at PANIC and the last lines of the boot when it ended
    the kernel."""
    request, *rest = records
    assert request.event == "faulting on request"
    if rest and rest[0].event == "removing an idt gate on request":
        rest = rest[1:]
    if recovered:
        if rest and rest[-1].event == "idt gate restored":
            rest = rest[:-1]
        *rest, resumed = rest
        assert (resumed.level, resumed.event) == ("WARN", "resuming at the recovery point")
        assert int_field(resumed, "rip") == symbols()["recovery_point_landing"]
    assert len(rest) == 4 and all(r.level == ("ERROR" if recovered else "PANIC") for r in rest), [str(r) for r in rest]
    report, frame, *regs = rest
    assert all(r.subsystem == "fault" for r in rest)
    assert frame.event == "frame" and [r.event for r in regs] == ["registers", "registers"]
    values = {k: int_field(r, k) for r in regs for k in r.fields}
    assert list(values) == REGISTERS
    assert values["rsp"] == int_field(frame, "rsp")
    assert int_field(frame, "cs") == 0x08 and int_field(frame, "ss") == 0x10
    return report, frame


def page_fault(what: str):
    report, frame = report_of(fault_records(what))
    assert report.event == "page fault"
    assert (int_field(frame, "vector"), frame.fields["name"]) == (14, "page-fault")
    assert int_field(frame, "error") == int_field(report, "error") and int_field(frame, "rip") == int_field(report, "rip")
    assert int_field(frame, "cr2") == int_field(report, "address")
    # The #PF gate switches to its IST stack, whatever stack faulted.
    assert frame.fields["handler-stack"] == "pf-ist"
    error = int_field(report, "error")
    expected_access = "execute" if error & 0x10 else "write" if error & 0x2 else "read"
    assert report.fields["access"] == expected_access
    assert report.fields["present"] == ("yes" if error & 1 else "no")
    assert report.fields["user"] == "no" and report.fields["rsvd"] == "no" and report.fields["pk"] == "no"
    return report, frame


def fields(report, *keys):
    return tuple(report.fields.get(k) for k in keys)


def test_every_fault_is_recovered_then_the_boot_fails(built):
    result = every_fault()
    assert list(segments(result)) == FAULTS
    summary = [r for r in result.records_for("fault") if r.event == "every fault tried"]
    assert len(summary) == 1 and summary[0] is result.records[-1]
    assert int_field(summary[0], "kinds") == len(FAULTS) and int_field(summary[0], "recovered") == len(FAULTS)
    assert not [r for r in result.records if r.level == "PANIC"], "a fault under a recovery point is not a panic"
    assert not [r for r in result.records_for("fault") if r.event in ("the fault did not happen",
                                                                      "fault while reporting a fault")]
    assert not [r for r in result.records_for("kernel") if r.event == "ready"]
    # Every fault resumed at the same place: the stack the recovery point was armed on.
    resumes = [r for r in result.records_for("fault") if r.event == "resuming at the recovery point"]
    assert len(resumes) == len(FAULTS) and len({int_field(r, "rsp") for r in resumes}) == 1
    # The double fault's missing #PF gate is put back before anything else runs.
    restored = [r for r in result.records_for("cpu") if r.event == "idt gate restored"]
    assert len(restored) == 1 and int_field(restored[0], "vector") == 14
    assert result.records.index(restored[0]) == result.records.index(resumes[-1]) + 1


def test_null_dereference(built):
    report, frame = page_fault("null")
    assert int_field(report, "address") == 0x10  # ListNode::next
    assert fields(report, "cause", "access", "present") == ("null-page", "read", "no")
    assert int_field(report, "error") == 0x0
    assert function_of(int_field(report, "rip")) == "fault_on_request::null_dereference"
    assert frame.fields["rsp-stack"] == "boot"


def test_write_to_text(built):
    report, _ = page_fault("write-text")
    assert fields(report, "cause", "region", "access", "present") == ("write-to-text", "text", "write", "yes")
    assert int_field(report, "error") == 0x3
    assert int_field(report, "address") == symbols()["fault_on_request::write_to_text"]
    assert function_of(int_field(report, "rip")) == "fault_on_request::write_to_text"


def test_write_to_rodata(built):
    report, _ = page_fault("write-rodata")
    assert fields(report, "cause", "region", "access", "present") == ("write-to-rodata", "rodata", "write", "yes")
    assert int_field(report, "address") == symbols()["fault_on_request::kReadOnlyMessage"]
    assert function_of(int_field(report, "rip")) == "fault_on_request::write_to_rodata"


def test_execute_from_data(built):
    report, frame = page_fault("exec-data")
    assert fields(report, "cause", "region", "access", "present") == ("nx-violation", "data", "execute", "yes")
    assert int_field(report, "error") == 0x11  # P | I/D
    # An instruction fetch: the fault is at the first byte fetched, and RIP is there too.
    assert int_field(report, "address") == int_field(report, "rip") == symbols()["fault_on_request::g_code_in_data"]


def test_stack_overflow_into_the_boot_stack_guard(built):
    report, frame = page_fault("stack-overflow")
    guard = symbols()["__boot_stack_guard"]
    assert fields(report, "cause", "region", "stack", "present") == ("guard-page", "guard-boot-stack", "boot", "no")
    assert guard <= int_field(report, "address") < guard + PAGE
    assert function_of(int_field(report, "rip")) == "fault_on_request::recurse"
    # The faulting RSP is at the guard: the frame could not have been pushed there.
    assert guard <= int_field(frame, "rsp") < guard + PAGE + 64 and frame.fields["rsp-stack"] == "boot"


def test_a_guard_page_of_an_ist_stack(built):
    report, _ = page_fault("ist-guard")
    nmi = next(r for r in every_fault().records_for("paging") if r.event == "stack" and r.fields["name"] == "nmi-ist")
    assert int_field(report, "address") == int_field(nmi, "guard") + PAGE - 8
    assert fields(report, "cause", "region", "stack", "access") == ("guard-page", "guard-nmi-ist", "nmi-ist", "write")


def test_a_hole_in_the_phys_window(built):
    report, _ = page_fault("window-hole")
    assert fields(report, "cause", "region", "access", "present") == ("phys-window-hole", "phys-window", "read", "no")
    pa = int_field(report, "pa")
    assert int_field(report, "address") == WINDOW_BASE + pa
    ram = [(int_field(r, "start"), int_field(r, "end")) for r in every_fault().records_for("memmap")
           if r.event == "range" and r.fields["class"] in ("usable", "loader-owned", "firmware")]
    assert ram and not [(s, e) for s, e in ram if s <= pa < e], "the kernel called RAM a hole"
    assert pa == max(e for _, e in ram)  # the first page past the end of RAM


def test_non_canonical_address_is_a_general_protection_fault(built):
    records = fault_records("non-canonical")
    report, frame = report_of(records)
    assert report.event == "general protection"
    assert (int_field(frame, "vector"), frame.fields["name"]) == (13, "general-protection")
    assert int_field(report, "error") == 0 and int_field(report, "displacement") == 0
    assert fields(report, "cause") == ("non-canonical",)
    assert int_field(report, "address") == 0xDEAD_0000_0000_1000
    # The decoded base register holds that address, as the register dump shows.
    regs = {k: int_field(r, k) for r in records if r.event == "registers" for k in r.fields}
    assert regs[report.fields["base"]] == 0xDEAD_0000_0000_1000
    assert function_of(int_field(report, "rip")) == "fault_on_request::non_canonical"
    # No IST for #GP: the handler runs on the stack that faulted.
    assert frame.fields["handler-stack"] == frame.fields["rsp-stack"] == "boot"


@pytest.mark.parametrize("alone", [False, True], ids=["recovered", "alone"])
def test_double_fault_on_its_own_stack(built, alone):
    """Also booted alone: the ordinary path, where the report is the kernel's last word."""
    if alone:
        result = single_fault("double-fault")
        records = segments(result)["double-fault"]
        assert records[-1] is result.records[-1]
        assert not [r for r in result.records_for("kernel") if r.event == "ready"]
    else:
        records = fault_records("double-fault")
    removed = [r for r in records if r.subsystem == "cpu" and r.event == "removing an idt gate on request"]
    assert len(removed) == 1 and int_field(removed[0], "vector") == 14
    report, frame = report_of(records, recovered=not alone)
    assert report.event == "double fault"
    assert (int_field(frame, "vector"), frame.fields["name"], int_field(frame, "error")) == (8, "double-fault", 0)
    assert report.fields["handler-stack"] == frame.fields["handler-stack"] == "df-ist"
    assert report.fields["rsp-region"] == "boot" and int_field(report, "rsp") == int_field(frame, "rsp")
    assert int_field(frame, "cr2") == 0x10  # the page fault whose delivery failed


def test_chapter_09s_verification_holds_the_stacks_too(finished):
    """Chapter 10 builds on 09 (CHAPTER_BASE): its boot verifies its address
    space as 09's does, with each kernel stack and its guard as regions."""
    audit = only(finished, "verify", "audit")
    assert audit.fields["ok"] == "yes" and int_field(audit, "wx") == 0
    verified = only(finished, "verify", "address space verified")
    assert int_field(verified, "findings") == 0
    regions = {r.fields["name"]: r for r in finished.records_for("verify") if r.event == "region"}
    for stack in ("df-ist", "pf-ist", "nmi-ist", "mc-ist"):
        assert regions[stack].fields["flags"] == "P|RW|NX" and regions[stack].fields["ok"] == "yes", stack
        assert regions[f"guard-{stack}"].fields["flags"] == "not-present", stack


def nmi_twice(hmp) -> str:
    """Two NMIs from QEMU's monitor, half a second apart. The CPU blocks NMIs from
    the delivery of one until the next IRET, so the second is only taken if
    the handler of the first returned."""
    for _ in range(2):
        hmp("nmi")
        time.sleep(0.3)
    return ""


def test_an_nmi_is_reported_and_survived(built):
    result = harness.boot(harness.BootConfig(CHAPTER, hold=True, monitor_commands=(nmi_twice,), timeout=90))
    assert result.outcome == "held", result.log[-2000:]
    nmis = [r for r in result.records if (r.subsystem, r.event) == ("trap", "nmi survived")]
    assert len(nmis) == 2, "the second NMI was never taken: the first handler did not return"
    for nmi in nmis:
        assert nmi.level == "WARN"
        # Where the kernel holds: the halt loop after `ready`, in the kernel's text.
        assert function_of(int_field(nmi, "rip")) == "x86::halt_forever", nmi
        assert (nmi.fields["serr"], nmi.fields["iochk"]) == ("no", "no"), "q35 raises no legacy NMI source here"
    assert not [r for r in result.records if r.level in ("ERROR", "PANIC")]
