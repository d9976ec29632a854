"""How a boot is asked to end, from its kernel command line.

Most fault-injection options exist to make a chapter stop with the failure
code on purpose (`test.fail=panic`, `test.fault=null`, ...); a few show
something and go on to `ready` (`test.exhaust`, `test.stale-tlb`). `make run`
uses this to tell a reader "the kernel panicked as you asked" with exit status
0 instead of a `make: *** Error 1`, and to fail when a boot ends otherwise than
asked. `tests/test_run_chapter.py` keeps the table honest: every `test.`
option the kernels read is listed, and every book boot ended as listed.
"""

from __future__ import annotations

#: Options (the word before any `=`) whose boot must end with the failure code.
FAILING_OPTIONS = frozenset({
    "test.fail",            # 01: panic, KASSERT or a CPU exception, on request
    "test.corrupt",         # 02: a damaged memory map must be refused
    "test.remap",           # 04: mapping a page twice must be refused
    "test.corrupt-acpi",    # 06: a damaged ACPI table must be refused
    "test.corrupt-remap",   # 08: a damaged handoff remap must be refused
    "test.bad-mapping",     # 09: the audit must refuse a planted bad entry
    "test.fault",           # 10: a deliberate fault, reported and fatal
    "test.heap-guard",      # 11: a touch of the heap's guard page
    "test.bad-free",        # 11: a corrupt free must be refused
})

#: Options that demonstrate something and still end with `ready`.
SUCCEEDING_OPTIONS = frozenset({
    "test.exhaust",         # 03: the allocator runs dry and says so, then goes on
    "test.stale-tlb",       # 07: a stale translation shown, then flushed
})


def option_name(word: str) -> str:
    """`test.fail=panic` -> `test.fail`."""
    return word.split("=", 1)[0]


def failure_request(cmdline: str | None) -> str | None:
    """The word of ``cmdline`` that asks for the failure code, or ``None``."""
    for word in (cmdline or "").split():
        if option_name(word) in FAILING_OPTIONS:
            return word
    return None


def asked_outcome(cmdline: str | None) -> str:
    """``"failure"`` when an option asks the kernel to fail, else ``"success"``."""
    return "failure" if failure_request(cmdline) else "success"
