"""Chapter 01: every way the kernel can fail is reported, then exits with the
failure code: panic(), KASSERT, and CPU exceptions caught by the early IDT
(never a hang, never a silent triple fault). Driven by `test.fail=WHAT`."""

from __future__ import annotations

import subprocess

import harness
from harness.log import int_field

CHAPTER = "01-boot"
SOURCE = "chapters/01-boot/fault_injection.cpp"  # where test.fail makes the kernel fail


#: Words chapter 01 does not read, given to the panic boot beside test.fail: a
#: typo of test.fail and chapter 10's test.fault must each be named by a
#: warning and change nothing; `log` (the runtime's) and `loader.dump-map`
#: (the loader's) must pass without one.
UNREAD_WORDS = "log=debug test.fial=assert loader.dump-map test.fault=null"


def boot_failing(what: str, extra: str = "") -> harness.log.LogRecord:
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline=f"test.fail={what} {extra}".strip(), timeout=60))
    harness.assert_outcome(result, "failure")
    assert result.record("kernel", "failing on request").fields["test.fail"] == what
    panics = [r for r in result.records if r.level == "PANIC"]
    assert len(panics) == 1 and panics[0] is result.records[-1], "one PANIC line, and it is the last"
    assert not result.records_for("handoff"), "nothing runs after the failure"
    unknown = [(r.level, r.fields["name"]) for r in result.records_for("cmdline") if r.event == "unknown option"]
    assert unknown == ([("WARN", "test.fial"), ("WARN", "test.fault")] if extra else [])
    return panics[0]


def source_line(text: str) -> int:
    """Line number of `text` in the chapter's source, so the test follows edits."""
    lines = (harness.REPO_ROOT / SOURCE).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def source_of(address: int) -> str:
    """`file:line` of a kernel address, from kernel.elf's debug info (addr2line)."""
    out = subprocess.run(
        ["addr2line", "-e", str(harness.chapter_kernel(CHAPTER)), hex(address)], capture_output=True, text=True
    ).stdout
    return out.split()[0]  # drops a trailing "(discriminator N)"


class TestSoftwareFailures:
    def test_panic_names_its_source_location(self, built):
        panic = boot_failing("panic", UNREAD_WORDS)  # the unread words do not keep it from failing as asked
        assert panic.subsystem == "kernel"
        assert panic.message.startswith("test.fail=panic requested")
        assert panic.fields["file"] == SOURCE
        assert int_field(panic, "line") == source_line('kernel::panic("test.fail=panic requested")')

    def test_failed_assertion_names_the_condition(self, built):
        panic = boot_failing("assert")
        assert panic.message.startswith('assertion failed: what == Str("an assumption that does not hold")')
        assert panic.fields["file"] == SOURCE
        assert int_field(panic, "line") == source_line("KASSERT(what ==")


class TestCpuExceptions:
    def test_invalid_opcode_is_reported_with_its_address(self, built):
        trap = boot_failing("invalid-opcode")
        assert trap.subsystem == "trap" and trap.event == "unexpected exception"
        assert (int_field(trap, "vector"), trap.fields["name"]) == (6, "invalid-opcode")
        # The reported RIP is the ud2 in fail_if_requested, by the kernel's own debug info.
        assert source_of(int_field(trap, "rip")) == f"{harness.REPO_ROOT / SOURCE}:{source_line('ud2')}"

    def test_page_fault_reports_cr2_and_error_code(self, built):
        trap = boot_failing("page-fault")
        assert (int_field(trap, "vector"), trap.fields["name"]) == (14, "page-fault")
        assert int_field(trap, "cr2") == 0x0DEA_D000_0000
        assert int_field(trap, "error") == 0x2  # not present (P=0), write (W=1), supervisor

