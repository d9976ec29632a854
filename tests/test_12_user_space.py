"""Chapter 12: user space — each boot module run in its own address space, in ring 3.

Three boots. The book's boot (``-cpu max``: SMEP and SMAP) runs every program
and is read over the monitor after ``ready``: chapter 04's protections must
still hold, and the lower half must be empty again. A boot on ``-cpu qemu64``
(no SMEP, no SMAP) also carries a broken module, which must be refused by name
while every other program runs as on ``max``. A held boot stops inside
``hello``'s first system call (``hold user.hold=hello``), with its PML4 in CR3,
so QEMU's own ``info tlb`` and a walk of the live tables show the process's
view: its pages user-accessible and only below 2^47 - 4 KiB, exactly the
pages the ELF and the stack ask for, each with its segment's rights; no kernel
page user-accessible; no page, and no frame, writable and executable.

For every program the tests check how it ended and the rule named, against
what the program does (the hostile ones each break one rule), and that the
frames it used came back: the allocator's count before and after is equal.
"""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

import harness
from harness import only
from harness.elf import PF_W, PF_X, read_elf
from harness.inspections import inspected_boot, page_table_leaves, parse_page_table_leaves
from harness.log import int_field
from harness.monitor import parse_info_registers, parse_info_tlb
from harness.paths import chapter_build_dir, chapter_variables
from harness.protections import check_frames, check_protections, pat_in_force

CHAPTER = "12-user-space"
PAGE = 4096
USER_LOWEST = 0x40_0000
USER_LIMIT = (1 << 47) - PAGE
STACK_TOP = 0x7FFF_FFF0_0000
STACK_PAGES = 4
KERNEL_POINTER = 0xFFFF_FFFF_8000_1000  # kernel-pointer.cpp
WILD_POINTER = 0x0000_1000_0000_0000  # wild-pointer.cpp
WINDOW_READ = 0xFFFF_8000_0010_0000  # read-kernel.cpp
USER_CS, USER_SS = 0x3B, 0x33
EFER_SCE = 1 << 0

# program -> (how it ends, the rule its kill line names)
PROGRAMS = {
    "hello": ("exit", None),
    "null-read": ("killed", "null-page"),
    "read-kernel": ("killed", "kernel-memory"),
    "write-text": ("killed", "write-read-only"),
    "exec-stack": ("killed", "execute-no-execute"),
    "privileged": ("killed", "general-protection"),
    "kernel-pointer": ("killed", "bad-user-pointer"),
    "wild-pointer": ("killed", "user-pointer-fault"),
    "wild-length": ("killed", "bad-user-pointer"),
    "wrong-args": ("exit", None),
}
# wrong-args.cpp's refusals, in order: (call, field, returns).
WRONG_ARGS = [("write", "fd", -9), ("write", "count", -22), ("syscall", "number", -38)]
# An ELF for another machine (e_machine 3, i386), to be refused by name.
BROKEN_ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\x03\x00" + b"\0" * 44


def user_elf(name: str):
    return read_elf((chapter_build_dir(CHAPTER) / "user" / f"{name}.elf").read_bytes())


def symbol(name: str, program: str) -> int:
    out = subprocess.run(["nm", str(chapter_build_dir(CHAPTER) / "user" / f"{program}.elf")],
                         capture_output=True, text=True, check=True).stdout
    return next(int(p[0], 16) for p in (line.split() for line in out.splitlines()) if len(p) == 3 and p[2] == name)


@pytest.fixture(scope="module")
def finished(built):
    result = harness.boot(inspected_boot(CHAPTER))
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def without_smap(built):
    """-cpu qemu64 (no SMEP, no SMAP), with a broken module beside the others,
    and hello's return RIP damaged at its first system call."""
    config = dataclasses.replace(inspected_boot(CHAPTER), cpu="qemu64", cmdline="test.sysret-rip=hello",
                                 esp_files={"user/broken.elf": BROKEN_ELF})
    result = harness.boot(config)
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def held(built):
    """Stopped in hello's first system call, its PML4 in CR3."""
    config = harness.BootConfig(CHAPTER, cmdline="user.hold=hello", hold=True,
                                monitor_commands=("info registers", "info tlb", page_table_leaves))
    result = harness.boot(config)
    harness.assert_outcome(result, "held")
    return result


def by_program(result) -> dict[str, dict[str, object]]:
    """name -> its start line, its kill line (or None), its exit line, its
    segment lines and all its records: the ``[user]`` lines with its pid, and
    any ``[user]`` line between its start and its exit (the runtime's SYSRET
    check knows no pid)."""
    out = {}
    current = None
    for r in result.records_for("user"):
        if r.event == "start":
            current = r.fields["name"]
            out[current] = {"start": r, "records": [r]}
        elif current is not None and (r.fields.get("pid") in (None, out[current]["start"].fields["pid"])):
            out[current]["records"].append(r)
            if r.event == "exit":
                current = None
    for name, p in out.items():
        pid = p["start"].fields["pid"]
        p["records"] = [r for r in result.records_for("user") if r.fields.get("pid") == pid and r not in p["records"]] \
            + p["records"]
        p["records"].sort(key=lambda r: r.line_number)
        killed = [r for r in p["records"] if r.event == "killed"]
        assert len(killed) <= 1, name
        p["killed"] = killed[0] if killed else None
        p["exit"] = only(p["records"], "user", "exit")
        p["segments"] = [r for r in p["records"] if r.event == "segment"]
    return out


def expected_programs(boot: str) -> dict[str, tuple[str, str | None]]:
    """How each program ends in a boot: on qemu64, hello's return RIP is
    damaged on request (test.sysret-rip=hello) and the SYSRET check ends it."""
    if boot == "without_smap":
        return {**PROGRAMS, "hello": ("killed", "sysret-non-canonical-rip")}
    return PROGRAMS


def test_the_chapter_builds_the_programs_the_tests_know():
    assert sorted(chapter_variables(CHAPTER)["CHAPTER_USER_PROGRAMS"]) == sorted(PROGRAMS)


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_protections_seen_by_qemu_without_smep_smap(without_smap):
    check_protections(without_smap, CHAPTER)


@pytest.mark.parametrize("boot", ["finished", "without_smap"])
def test_the_kernel_reaches_ready_and_only_programs_were_stopped(boot, request):
    result = request.getfixturevalue(boot)
    assert result.records[-1].subsystem == "kernel" and result.records[-1].event == "ready"
    noisy = [r for r in result.records if r.level in ("WARN", "ERROR", "PANIC")]
    expected = {("user", "killed"), ("user", "rejected"), ("user", "refused"), ("test", "sysret rip damaged on request")}
    assert all(r.level == "WARN" and (r.subsystem, r.event) in expected for r in noisy), [str(r) for r in noisy]


@pytest.mark.parametrize("boot", ["finished", "without_smap"])
def test_every_program_ends_as_its_source_says(boot, request):
    result = request.getfixturevalue(boot)
    programs = by_program(result)
    assert sorted(programs) == sorted(PROGRAMS)
    for name, (end, rule) in expected_programs(boot).items():
        p = programs[name]
        assert p["exit"].fields["end"] == end, name
        if rule is None:
            assert p["killed"] is None, name
        else:
            assert p["killed"].fields["rule"] == rule, name
            assert p["killed"].fields["why"], name
            assert int_field(p["exit"], "code") == -1
    summary = only(result, "user", "all programs done")
    exited = sum(end == "exit" for end, _ in expected_programs(boot).values())
    assert int_field(summary, "exited") == exited and int_field(summary, "killed") == len(PROGRAMS) - exited


def test_wrong_arguments_come_back_as_the_errors_the_program_expected(finished):
    """Refused, not killed: each refusal names its field and returns -errno,
    and the program, which checks each, exits 0 and says so."""
    p = by_program(finished)["wrong-args"]
    refused = [r for r in p["records"] if r.event == "refused"]
    assert [(r.fields["call"], r.fields["field"], int(r.fields["returns"])) for r in refused] == WRONG_ARGS
    assert [int_field(r, "value") for r in refused] == [2, 300, 99]
    assert all(r.fields["rule"] for r in refused)
    assert int_field(p["exit"], "code") == 0
    assert any(r.event == "write" and r.fields["text"].startswith("wrong-args: every refusal") for r in p["records"])
    # Only this program was refused anything.
    assert all(r.fields["name"] == "wrong-args" for r in finished.records_for("user") if r.event == "refused")


def test_sysret_to_a_non_canonical_rip_ends_the_program_not_the_kernel(without_smap):
    hello = by_program(without_smap)["hello"]
    damaged = only(without_smap, "test", "sysret rip damaged on request")
    assert damaged.fields["name"] == "hello" and int_field(damaged, "rip") == 1 << 47
    # The write itself was served; the return to 2^47 was refused.
    assert only(hello["records"], "user", "write").fields["text"] == "hello from ring 3"
    assert int_field(hello["killed"], "rip") == 1 << 47
    assert hello["exit"].fields["balanced"] == "yes"
    assert not [r for r in without_smap.records if r.subsystem == "fault" and r.level != "INFO"]


def test_hello_writes_learns_its_pid_and_exits_with_it(finished):
    hello = by_program(finished)["hello"]
    pid = hello["start"].fields["pid"]
    write = only(hello["records"], "user", "write")
    assert write.fields["text"] == "hello from ring 3" and int_field(write, "bytes") == len("hello from ring 3")
    assert only(hello["records"], "user", "getpid").fields["pid"] == pid
    # hello.cpp exits with what getpid returned in RAX: the value the program saw, not the kernel's log.
    assert int_field(hello["exit"], "code") == int(pid)


@pytest.mark.parametrize("boot", ["finished", "without_smap"])
def test_each_fault_is_decoded_at_the_address_the_program_touched(boot, request):
    programs = by_program(request.getfixturevalue(boot))

    def kill(name):
        return programs[name]["killed"]

    assert int_field(kill("null-read"), "addr") == 0 and kill("null-read").fields["present"] == "no"
    k = kill("read-kernel")
    assert int_field(k, "addr") == WINDOW_READ and k.fields["access"] == "read" and k.fields["present"] == "yes"
    k = kill("write-text")
    assert int_field(k, "addr") == symbol("_start", "write-text") and k.fields["access"] == "write"
    assert k.fields["present"] == "yes"
    k = kill("exec-stack")
    assert STACK_TOP - STACK_PAGES * PAGE <= int_field(k, "addr") < STACK_TOP
    assert k.fields["access"] == "execute" and int_field(k, "rip") == int_field(k, "addr")
    for name in ("null-read", "read-kernel", "write-text", "exec-stack"):
        assert int_field(kill(name), "vector") == 14, name
        assert USER_LOWEST <= int_field(kill(name), "rip") < USER_LIMIT or name == "exec-stack"
    # HLT in ring 3: #GP(0), delivered on the stack TSS.RSP0 names (it has no IST stack).
    k = kill("privileged")
    assert (int_field(k, "vector"), int_field(k, "error")) == (13, 0)
    text = next(s for s in user_elf("privileged").loads if s.flags & PF_X)
    assert text.vaddr <= int_field(k, "rip") < text.vaddr + text.memsz


@pytest.mark.parametrize("boot", ["finished", "without_smap"])
def test_bad_pointers_are_refused_before_a_copy_or_caught_by_the_fixup(boot, request):
    programs = by_program(request.getfixturevalue(boot))
    k = programs["kernel-pointer"]["killed"]
    assert (k.fields["call"], k.fields["field"], int_field(k, "value")) == ("write", "buffer", KERNEL_POINTER)
    assert "addr" not in k.fields  # refused by the range check: nothing was touched
    k = programs["wild-length"]["killed"]
    assert (k.fields["call"], k.fields["field"]) == ("write", "count") and int_field(k, "value") > USER_LIMIT
    k = programs["wild-pointer"]["killed"]
    # Below the limit, so the range check let it through; the copy's page fault went to the fixup.
    assert (k.fields["call"], int_field(k, "value"), int_field(k, "addr")) == ("write", WILD_POINTER, WILD_POINTER)
    assert not [r for r in request.getfixturevalue(boot).records if r.subsystem == "fault" and r.level != "INFO"]


@pytest.mark.parametrize("boot", ["finished", "without_smap"])
def test_every_frame_a_program_used_comes_back(boot, request):
    result = request.getfixturevalue(boot)
    for name, p in by_program(result).items():
        start, exit_ = p["start"], p["exit"]
        assert int_field(exit_, "used-before") == int_field(exit_, "used-after") == int_field(start, "used-before"), name
        assert exit_.fields["balanced"] == "yes", name
        assert int_field(exit_, "pages") == int_field(start, "pages"), name
        assert int_field(exit_, "tables") == int_field(start, "tables"), name
        assert int_field(exit_, "frames-returned") == int_field(start, "pages") + int_field(start, "tables"), name
        assert int_field(exit_, "borrowed") == int_field(start, "borrowed"), name
    summary = only(result, "user", "all programs done")
    assert int_field(summary, "used-before") == int_field(summary, "used-after")
    assert summary.fields["balanced"] == "yes"


@pytest.mark.parametrize("boot", ["finished", "without_smap"])
def test_every_process_is_audited_before_it_runs(boot, request):
    for name, p in by_program(request.getfixturevalue(boot)).items():
        audit = only(p["records"], "user", "audit")
        assert audit.fields["ok"] == "yes", name
        assert int_field(audit, "user-pages") == int_field(p["start"], "pages") + int_field(p["start"], "borrowed"), name
        for rule in ("outside", "kernel-user", "wx", "huge-user"):
            assert int_field(audit, rule) == 0, (name, rule)
        assert p["records"].index(audit) < p["records"].index(p["start"]), "audited before it starts"


def test_segments_are_the_elfs_with_their_rights(finished):
    rights = {PF_X: "r-x", 0: "r--", PF_W: "rw-"}
    for name, p in by_program(finished).items():
        elf = user_elf(name)
        expected = [(s.vaddr, -(-s.memsz // PAGE), rights[s.flags & (PF_X | PF_W)]) for s in elf.loads]
        logged = [(int_field(r, "va"), int_field(r, "pages"), r.fields["rights"]) for r in p["segments"]]
        assert logged == sorted(expected), name
        assert int_field(p["start"], "entry") == elf.entry
        text_pages = sum(n for _, n, r in expected if r == "r-x")
        assert int_field(p["start"], "borrowed") == text_pages  # text runs from the module's frames
        assert int_field(p["start"], "pages") == sum(n for _, n, r in expected if r != "r-x") + STACK_PAGES


def test_a_broken_module_is_refused_by_name_and_the_rest_run(without_smap):
    rejected = only(without_smap, "user", "rejected")
    assert rejected.fields["name"] == "broken.elf" and rejected.fields["field"] == "e_machine"
    assert int_field(rejected, "value") == 3 and "EM_X86_64" in rejected.fields["rule"]
    summary = only(without_smap, "user", "all programs done")
    assert int_field(summary, "rejected") == 1 and int_field(summary, "programs") == len(PROGRAMS) + 1


def test_the_cpu_is_set_up_for_ring_3(finished, held):
    segments = only(finished, "cpu", "user segments")
    assert (int_field(segments, "user-cs"), int_field(segments, "user-ss"), int_field(segments, "entries")) == (USER_CS, USER_SS, 8)
    syscall = only(finished, "cpu", "syscall")
    star = int_field(syscall, "star")
    # SYSRET: CS = STAR[63:48] + 16, SS = STAR[63:48] + 8 (RPL 3); SYSCALL: CS = STAR[47:32].
    assert ((star >> 48) + 16) | 3 == USER_CS and ((star >> 48) + 8) | 3 == USER_SS and (star >> 32) & 0xFFFF == 0x8
    # TF, IF, DF and AC above all; and every other flag a program can set (CF PF AF ZF SF OF IOPL NT RF ID).
    fmask = int_field(syscall, "fmask")
    assert fmask & ((1 << 8) | (1 << 9) | (1 << 10) | (1 << 18)) == (1 << 8) | (1 << 9) | (1 << 10) | (1 << 18)
    assert fmask == 0x257FD5
    # SYSENTER (read back from the MSRs): a null CS, so it is #GP from ring 3; CSTAR unused.
    assert int_field(syscall, "sysenter-cs") == 0 and int_field(syscall, "cstar") == 0
    assert syscall.fields["sce"] == "yes" and syscall.fields["smap"] == "yes" and syscall.fields["smep"] == "yes"
    registers = parse_info_registers(held.monitor["info registers"])
    assert registers["EFER"] & EFER_SCE, "EFER.SCE clear in QEMU's view"


def test_held_inside_hello_with_its_pml4_in_cr3(held):
    hold = only(held, "kernel", "holding for monitor")
    start = only(held, "user", "start", name="hello")
    assert start.fields["name"] == hold.fields["name"] == "hello"
    registers = parse_info_registers(held.monitor["info registers"])
    assert registers["CR3"] & ~0xFFF == int_field(start, "pml4") == int_field(hold, "cr3")


def test_qemus_view_of_the_process(held):
    tlb = parse_info_tlb(held.monitor["info tlb"])
    entries = {e.va & (1 << 64) - 1: e for e in tlb}
    user = {va: e for va, e in entries.items() if e.user}
    # Nothing user-accessible at or above the user limit; no kernel-half page user-accessible.
    assert all(USER_LOWEST <= va < USER_LIMIT for va in user), [hex(v) for v in user if v >= USER_LIMIT]
    assert not [va for va, e in entries.items() if va >= 1 << 47 and e.user]
    # Exactly the ELF's pages and the stack, each with its segment's rights.
    elf = user_elf("hello")
    expected = {}
    for s in elf.loads:
        for page in range(s.vaddr, s.vaddr + s.memsz, PAGE):
            expected[page] = (bool(s.flags & PF_W), bool(s.flags & PF_X))
    for page in range(STACK_TOP - STACK_PAGES * PAGE, STACK_TOP, PAGE):
        expected[page] = (True, False)
    assert {va: (e.writable, not e.no_execute) for va, e in user.items()} == expected
    assert 0 not in entries and STACK_TOP - (STACK_PAGES + 1) * PAGE not in entries  # page 0, the stack guard
    assert not [va for va, e in entries.items() if e.writable and not e.no_execute], "a W+X page"
    # The text is the module's own frame, in place (one page in: p_offset).
    module = only(held, "loader", "module", name="hello.elf")
    text = next(s for s in elf.loads if s.flags & PF_X)
    assert entries[text.vaddr].pa == int_field(module, "pa") + text.offset


def test_the_kernels_audit_of_hello_counts_what_qemu_sees(held):
    """The audit line the kernel printed for hello's tables, against QEMU's
    ``info tlb`` of the same tables (CR3 is hello's PML4 at the hold)."""
    audit = only(held, "user", "audit", pid=only(held, "user", "start", name="hello").fields["pid"])
    tlb = parse_info_tlb(held.monitor["info tlb"])
    assert int_field(audit, "user-pages") == len([e for e in tlb if e.user])
    assert int_field(audit, "kernel-pages") == len([e for e in tlb if e.va & (1 << 64) - 1 >= 1 << 47])


def test_no_frame_writable_anywhere_and_executable_in_the_process(held):
    """Per physical frame, under the process's CR3: a program's text frame is
    executable at its user address, so no other mapping (the kernel's window
    above all) may make it writable."""
    leaves = parse_page_table_leaves(held.monitor["page_table_leaves"])
    check_frames(leaves, parse_info_tlb(held.monitor["info tlb"]), pat_in_force(held))
    user = [leaf for leaf in leaves if leaf.user]
    assert user and all(leaf.va < USER_LIMIT for leaf in user)
    read_only_window = only(held, "paging", "read-only", phase="map_phys_offset_regions", what="boot-modules")
    assert int_field(read_only_window, "start") <= int_field(only(held, "loader", "module", name="hello.elf"), "pa")


def test_the_lower_half_is_empty_again_after_the_last_program(finished):
    tlb = parse_info_tlb(finished.monitor["info tlb"])
    assert not [e for e in tlb if e.va & (1 << 64) - 1 < 1 << 47]
    share = only(finished, "paging", "phase share_kernel_half")
    assert int_field(share, "present-before") + int_field(share, "tables") == int_field(share, "slots") == 256
