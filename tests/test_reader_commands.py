"""The commands a reader types, run as the reader types them.

`make run` (reaching `ready`, the terminal left readable, no firmware noise),
`make run` with a failure the reader asked for, quitting from the console and
from QEMU's monitor, `make debug` with GDB commands piped in, `make help`, and
the rule that a chapter's way to check itself is `make check`, never a bare
binary from build/ or a raw pytest command that could test a stale build.

`make check` itself is run against a deliberately broken module by
tests/test_make_check.py. `.ci/run` runs `make run` on a fresh clone before
anything else is built, which is what a first-time reader does.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness
from harness import asked_outcome
from harness import gdb as harness_gdb

REPO = harness.REPO_ROOT
sys.path.insert(0, str(REPO / "tests"))
import run_chapter  # noqa: E402

#: What OVMF sends to clear the terminal; `make run` must not pass it on.
CLEAR_SCREEN = "\x1b[2J"


def reader_env(**extra: str) -> dict[str, str]:
    """The environment of a reader's shell: none of the outer make's jobserver
    or variables (this file may run under `make test`)."""
    return harness.paths.environment_outside_make(**extra)


def make(*args: str, stdin=subprocess.DEVNULL, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=REPO, stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout,
                          env=reader_env(**env))


# ---------------------------------------------------------------------------
# make run
# ---------------------------------------------------------------------------


def test_make_run_reaches_ready_and_keeps_the_terminal_readable(built):
    run = make("run", "CH=01-boot")
    assert run.returncode == 0, run.stdout
    assert "[INFO  kernel] ready chapter=01-boot" in run.stdout
    assert run.stdout.rstrip().endswith("QEMU: the kernel exited with the success code")
    assert CLEAR_SCREEN not in run.stdout, "OVMF's clear-screen sequence reached the terminal"
    assert "failed to load Boot" not in run.stdout, "the firmware tried a boot device the machine should not have"
    assert "make: ***" not in run.stdout


def test_make_run_with_an_asked_for_failure_says_so_and_succeeds(built):
    run = make("run", "CH=01-boot", "CMDLINE=test.fail=panic")
    assert run.returncode == 0, run.stdout
    assert "[PANIC kernel] test.fail=panic requested" in run.stdout
    assert run.stdout.rstrip().endswith("QEMU: the kernel stopped with the failure code, as test.fail=panic asked")
    assert "make: ***" not in run.stdout


class Terminal:
    """`tests/run_chapter.py run` on a pseudo-terminal, as `make run` gives it one."""

    def __init__(self, *args: str):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: exec the reader's command
            os.chdir(REPO)
            os.execve("/usr/bin/python3", ["/usr/bin/python3", "tests/run_chapter.py", "run", *args], reader_env())
        self.output = b""

    def read_until(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {text!r} on the terminal:\n{self.text()}"
            if select.select([self.fd], [], [], remaining)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the child has gone: no more output
                    chunk = b""
                assert chunk, f"the run ended before {text!r}:\n{self.text()}"
                self.output += chunk
        return self.text()

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.2)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                self.output += chunk
                if chunk:
                    continue
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status), self.text()
        os.kill(self.pid, 9)
        raise AssertionError(f"the run did not end:\n{self.text()}")

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")


# Ctrl-A X and the monitor's `quit` reach QEMU the same way (QMP reports both
# as host-qmp-quit), so one boot, quitting from the monitor, shows both.
@pytest.mark.parametrize("keys", [b"\x01c"], ids=["monitor-quit"])
def test_quitting_is_called_quitting_not_a_triple_fault(built, keys):
    terminal = Terminal("--chapter", "01-boot", "--cmdline", "hold")
    terminal.read_until("holding for monitor")
    terminal.type(keys)
    if keys == b"\x01c":
        terminal.read_until("(qemu)")
        terminal.type(b"quit\r")
    status, text = terminal.finish()
    assert status == 0, text
    assert "QEMU: quit (Ctrl-A X, or `quit` in the monitor)" in text
    assert "triple fault" not in text


# The sentences for endings a boot cannot produce on demand (QEMU 7.2 resets on
# a triple fault only when the kernel is broken), from the QMP events QEMU sends.
CODES = harness.load_exit_codes()


@pytest.mark.parametrize("status, events, cmdline, sentence, exit_status", [
    (CODES.success_status, [], "", "the kernel exited with the success code", 0),
    (CODES.failure_status, [], "", "the kernel exited with the FAILURE code (see the log above)", 1),
    (CODES.failure_status, [], "test.fault=null log=debug", "as test.fault=null asked", 0),
    (CODES.success_status, [], "test.bad-free=double", "but test.bad-free=double asked it to fail", 1),
    (CODES.success_status, [], "test.stale-tlb", "the kernel exited with the success code", 0),
    (0, [{"event": "SHUTDOWN", "data": {"guest": True, "reason": "guest-reset"}}], "", "a triple fault", 1),
    (0, [{"event": "SHUTDOWN", "data": {"guest": False, "reason": "host-qmp-quit"}}], "", "Ctrl-A X", 0),
    (0, [], "", "exited with status 0", 0),
])
def test_how_a_run_ended_in_one_sentence(status, events, cmdline, sentence, exit_status):
    said, code = run_chapter.describe_ending(status, events, cmdline, CODES)
    assert sentence in said
    assert code == exit_status


def test_the_console_relay_drops_screen_clears_even_when_split(tmp_path):
    firmware = b"\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: loading\r\n\x1b[0m[INFO  kernel] ready\r\n"
    for cut in range(1, len(firmware)):
        read_end, write_end = os.pipe()
        os.write(write_end, firmware[:cut])
        os.write(write_end, firmware[cut:])
        os.close(write_end)
        sink = tmp_path / "out"
        with open(read_end, "rb") as source, open(sink, "wb") as out:
            run_chapter.relay_console(source, out)
        # Colours pass; clears and cursor jumps do not, wherever the read split them.
        assert sink.read_bytes() == b"BdsDxe: loading\r\n\x1b[0m[INFO  kernel] ready\r\n", cut


def test_the_console_relay_passes_the_monitors_line_editing_at_once(tmp_path):
    """Only an unfinished screen-control sequence waits for the next read;
    the monitor's ESC [K after a key is shown with that key."""
    import threading
    read_end, write_end = os.pipe()
    sink = tmp_path / "out"
    with open(read_end, "rb") as source, open(sink, "wb") as out:
        relay = threading.Thread(target=run_chapter.relay_console, args=(source, out))
        relay.start()
        os.write(write_end, b"(qemu) q\x1b[K")
        deadline = time.monotonic() + 5
        while sink.read_bytes() != b"(qemu) q\x1b[K" and time.monotonic() < deadline:
            time.sleep(0.02)
        shown = sink.read_bytes()
        os.close(write_end)
        relay.join()
    assert shown == b"(qemu) q\x1b[K"


# ---------------------------------------------------------------------------
# Which options ask for a failure
# ---------------------------------------------------------------------------

def test_every_test_option_the_kernels_read_says_how_its_boot_ends():
    read = {name for path in [*REPO.glob("chapters/*/*.cpp"), *REPO.glob("common/**/*.cpp")]
            for name in asked_outcome.OPTION_READ.findall(path.read_text()) if name.startswith("test.")}
    assert read, "no test. option found: has the command-line API changed?"
    listed = asked_outcome.FAILING_OPTIONS | asked_outcome.SUCCEEDING_OPTIONS
    assert read - listed == set(), "add these to tests/harness/asked_outcome.py"
    assert listed - read == set(), "no kernel reads these any more"


def test_every_book_boot_ended_as_its_command_line_asked():
    records = sorted((harness.BUILD_DIR / "book" / "logs").glob("*.json"))
    if not records:
        pytest.skip("no book boots yet (make book-logs; make test makes them first)")
    for path in records:
        boot = json.loads(path.read_text())
        assert boot["outcome"] == asked_outcome.asked_outcome(boot["cmdline"], boot["chapter"]), path.name


def test_an_option_asks_only_in_a_chapter_that_reads_it():
    """Chapter 11 reads no test.fail: `make run CH=11-heap CMDLINE=test.fail=panic`
    boots to ready, says the option changes nothing, and exits 0."""
    assert asked_outcome.failure_request("test.fail=panic", "01-boot") == "test.fail=panic"
    assert asked_outcome.failure_request("test.fail=panic", "11-heap") is None
    assert asked_outcome.unread_options("hold test.fail=panic loader.dump-map log=debug", "11-heap") == [
        "test.fail=panic"]
    said, code = run_chapter.describe_ending(CODES.success_status, [], "test.fail=panic", CODES, "11-heap")
    assert code == 0 and said == "the kernel exited with the success code"
    # The corrupt-acpi hook lives in a common/mm module that chapters 06 on link.
    assert "test.corrupt-acpi" in asked_outcome.options_read_by("09-verify")
    assert "test.corrupt-acpi" not in asked_outcome.options_read_by("05-paging")


# ---------------------------------------------------------------------------
# make debug, make help
# ---------------------------------------------------------------------------


def test_make_debug_with_gdb_commands_piped_in(built):
    commands = "info symbol $pc\nkpt &kernel_main\ncontinue\n"
    run = subprocess.run(["make", "debug", "CH=05-paging"], cwd=REPO, input=commands, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors="replace", timeout=120,
                         env=reader_env(GDB_PORT=str(harness_gdb.free_port())))
    assert run.returncode == 0, run.stdout
    assert "Temporary breakpoint 1, kernel_main" in run.stdout, "GDB did not stop at kernel_main"
    # The helpers are loaded: kpt walks the tables to kernel_main's own page.
    walk = next(line for line in run.stdout.splitlines() if line.strip().startswith("va=") and " pa=" in line)
    assert harness.parse_fields(walk.strip())["access"] == "RX", walk


PUBLIC = ("all", "run", "debug", "check", "test", "test-matrix", "book", "bench", "fuzz", "clean", "help",
          "kernels", "loader", "host-tests")
#: .PHONY targets that are steps of others, not commands for a reader.
INTERNAL = {"check-chapter", "book-logs", "fuzz-targets", "test-pc-vars", "test-host-run"}


def phony_targets() -> set[str]:
    targets = set()
    for path in [REPO / "Makefile", *REPO.glob("mk/*.mk"), REPO / "bench" / "bench.mk"]:
        for line in path.read_text().splitlines():
            if line.startswith(".PHONY:"):
                targets.update(line.split(":", 1)[1].split())
    return targets


def test_make_help_lists_every_public_target_with_one_line():
    run = make("help")
    assert run.returncode == 0, run.stdout
    listed = {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith("  ")}
    for target in PUBLIC:
        assert target in listed, f"make help does not list {target}"
        assert len(listed[target].split()) > 2, f"make help gives {target} no description"
    assert phony_targets() - INTERNAL <= set(listed), "a public target without a `# help:` line"


# ---------------------------------------------------------------------------
# The way a chapter tells a reader to check their work
# ---------------------------------------------------------------------------

#: A command that tests whatever happens to be in build/: a bare binary, or
#: pytest run directly. Both pass on a stale build after an edit.
STALE_CHECK = re.compile(r"`[^`]*(?:\bbuild/host/host_tests\b|\bpython3? -m pytest\b|(?<![\w/])pytest )[^`]*`")


def reader_pages() -> list[Path]:
    return [REPO / "README.md", *sorted(REPO.glob("chapters/*/README.md")), *sorted(REPO.glob("book/**/*.md"))]


def test_no_page_tells_a_reader_to_check_with_a_stale_build():
    offenders = [f"{page.relative_to(REPO)}:{number}: {match}"
                 for page in reader_pages()
                 for number, line in enumerate(page.read_text().splitlines(), 1)
                 for match in STALE_CHECK.findall(line)]
    assert not offenders, "use `make check CH=NN-name` instead:\n" + "\n".join(offenders)


def test_stale_check_pattern_catches_what_it_should():
    assert STALE_CHECK.findall("run `build/host/host_tests --gtest_filter='X*'` and see")
    assert STALE_CHECK.findall("(`/usr/bin/python3 -m pytest tests/test_01_boot.py -k permissions`)")
    assert not STALE_CHECK.findall("run `make check CH=05-paging`")


def test_every_chapter_names_make_check():
    for readme in sorted(REPO.glob("chapters/*/README.md")):
        chapter = readme.parent.name
        assert f"make check CH={chapter}" in readme.read_text(), f"{readme.relative_to(REPO)} never says make check"


# ---------------------------------------------------------------------------
# Files the text names
# ---------------------------------------------------------------------------

#: A file name as prose mentions it: `kernel_main.cpp`, STYLE.md, `mk/kernel.mk`.
FILE_NAME = re.compile(r"\b[\w.-]+\.(?:md|h|cpp|py|S|mk|ld|sh)\b")
#: Names that stand for a pattern, not a file.
PLACEHOLDERS = {"NN-name.md"}
#: Files a command writes for the reader, not in the repository (`make lab`'s guide).
WRITTEN_BY_COMMANDS = {"LAB.md"}


def test_every_file_a_page_names_exists():
    """Chapter 09 once cited a STYLE.md that is not in the repository."""
    names = {path.name for path in REPO.rglob("*")
             if not {".git", "build", "labs"} & set(path.relative_to(REPO).parts)}
    missing = [f"{page.relative_to(REPO)}: {name}" for page in reader_pages()
               for name in FILE_NAME.findall(page.read_text()) if name not in names | PLACEHOLDERS | WRITTEN_BY_COMMANDS]
    assert not missing, "pages name files the repository does not have:\n" + "\n".join(missing)
