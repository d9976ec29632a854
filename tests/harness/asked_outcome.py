"""How a boot is asked to end, from its kernel command line.

Most fault-injection options exist to make a chapter stop with the failure
code on purpose (`test.fail=panic`, `test.fault=null`, ...); a few show
something and go on to `ready` (`test.exhaust`, `test.stale-tlb`). `make run`
uses this to tell a reader "the kernel panicked as you asked" with exit status
0 instead of a `make: *** Error 1`, and to fail when a boot ends otherwise than
asked. `tests/test_reader_commands.py` keeps the table honest: every `test.`
option the kernels read is listed, and every book boot ended as listed.
"""

from __future__ import annotations

import re

from . import paths

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
    "test.acpi-in-reserved",  # 06: the ACPI tables read from reserved memory, through their own window
    "test.stale-tlb",       # 07: a stale translation shown, then flushed
    "test.sysret-rip",      # 12: a damaged return RIP ends its program, not the kernel
    "test.fork-oom",        # 14: a fork runs out of frames part-way, undoes itself, returns -ENOMEM
    "test.silent-cpu",      # 15: a CPU that never gets its start-up IPIs is named, the others run
    "test.stalled-cpu",     # 15: a CPU that starts but never comes online is named after 10 s, the others run
    "test.lazy-cpus-stay",  # 15: idle CPUs keep hop's stale translations; hop reads an old frame
})


def option_name(word: str) -> str:
    """`test.fail=panic` -> `test.fail`."""
    return word.split("=", 1)[0]


#: How the kernels read an option: `command_line().has("hold")`, `.value("log")`.
OPTION_READ = re.compile(r'\.(?:has|value)\("([a-z0-9.-]+)"\)')


def options_read_by(chapter: str) -> set[str]:
    """Every option the chapter's kernel reads (its folder, its lineage's
    common/mm modules, the runtime)."""
    return {name for path in paths.chapter_sources(chapter) for name in OPTION_READ.findall(path.read_text())}


def failure_request(cmdline: str | None, chapter: str | None = None) -> str | None:
    """The word of ``cmdline`` that asks for the failure code, or ``None``;
    with ``chapter``, only an option that chapter's kernel reads asks."""
    known = options_read_by(chapter) if chapter else FAILING_OPTIONS
    for word in (cmdline or "").split():
        if option_name(word) in FAILING_OPTIONS and option_name(word) in known:
            return word
    return None


def unread_options(cmdline: str | None, chapter: str) -> list[str]:
    """The kernel options of ``cmdline`` that the chapter's kernel never reads
    (the loader's own, `loader.…`, are not the kernel's)."""
    known = options_read_by(chapter)
    return [word for word in (cmdline or "").split()
            if not word.startswith("loader.") and option_name(word) not in known]


def asked_outcome(cmdline: str | None, chapter: str | None = None) -> str:
    """``"failure"`` when an option asks the kernel to fail, else ``"success"``."""
    return "failure" if failure_request(cmdline, chapter) else "success"
