"""Boot a chapter under QEMU + OVMF and report what happened.

This is the heart of the test harness. One call to :func:`boot`:

1. makes a private temporary directory for the run, so runs can go in
   parallel (``pytest -n auto``) without sharing any file or port;
2. copies the chapter's ``disk.img`` and OVMF's variable store into it, and
   edits the image copy with mtools (``cmdline.txt``, replaced or deleted
   files), so the build tree is never modified (:mod:`harness.run_dir`,
   :mod:`harness.disk_image`);
3. starts ``qemu-system-x86_64`` with the serial port written to a file and a
   QMP socket for control (:mod:`harness.qemu_argv`);
4. watches the serial file until the guest exits, panics, holds or runs out
   of time; a run with monitor commands is inspected after the guest's exit
   code (see below);
5. returns a :class:`~harness.boot_result.BootResult` with the log, the parsed
   records, QEMU's exit status and an *outcome* word that tests compare
   against (:data:`~harness.boot_result.OUTCOMES` lists them).

What to boot is a :class:`~harness.boot_config.BootConfig`.

Inspecting the finished machine: with ``BootConfig.monitor_commands`` set,
the exit device is swapped for a plain port that writes the guest's exit byte
to a file (``isa-debugcon``). The kernel halts right after writing it, so QEMU
keeps running with the address space exactly as the kernel left it; the
harness runs the monitor commands, quits QEMU, and reports the outcome and
exit status that byte would have given. The serial log is the same as a plain
boot's, which is why the book's boots can carry the tests' monitor readings
(:mod:`harness.boot_logs`). ``hold`` is the other way in, for a person at the
monitor: the kernel stops after ``ready`` and never exits by itself.
"""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .boot_config import HOLD_RECORD, BootConfig, inspects_after_exit
from .boot_result import BootResult
from .errors import HarnessError
from .exit_codes import ExitCodes, load_exit_codes, qemu_status
from .firmware_vars import seasoned_vars
from .log import LogRecord, iter_records, strip_ansi
from .qemu_argv import qemu_command
from .qmp import QMPClient
from .run_dir import RunFiles, _built_image, prepare_run_dir

# harness.qemu was once all of the above; what was imported from it still is.
from .boot_config import HOLD_WORD  # noqa: F401
from .boot_result import (  # noqa: F401
    OUTCOMES,
    assert_outcome,
    assert_ready_without_warnings,
    the_rejection,
)
from .disk_image import esp_delete, esp_exists, esp_read, esp_write  # noqa: F401
from .errors import MissingBuildError  # noqa: F401
from .qemu_argv import QEMU_BINARY  # noqa: F401

#: Seconds between looks at the serial log.
POLL_INTERVAL = 0.05
#: After a PANIC line the guest should exit at once; give it this long.
PANIC_GRACE = 2.0
#: How long QEMU may take to exit after a QMP "quit" before it is killed.
QUIT_GRACE = 10.0

#: Set this environment variable to 1 to keep each run's temporary directory.
KEEP_ENV = "KEEP_QEMU_RUNS"


# ---------------------------------------------------------------------------
# Running QEMU
# ---------------------------------------------------------------------------


class _SerialTail:
    """Follows the growing serial log file, parsing complete lines as they arrive."""

    def __init__(self, path: Path):
        self.path = path
        self.text = ""               # everything read so far, raw
        self.records: list[LogRecord] = []
        self._handle = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial = ""           # raw text after the last newline
        self._line_number = 0

    def _add_lines(self, raw_lines: list[str]) -> list[LogRecord]:
        new = list(iter_records((strip_ansi(line) for line in raw_lines), self._line_number + 1))
        self._line_number += len(raw_lines)
        self.records += new
        return new

    def poll(self) -> list[LogRecord]:
        """Read what QEMU wrote since the last call; return the new records."""
        if self._handle is None:
            try:
                self._handle = open(self.path, "rb")
            except FileNotFoundError:
                return []  # QEMU has not created it yet
        chunk = self._decoder.decode(self._handle.read())
        if not chunk:
            return []
        self.text += chunk
        *complete, self._partial = (self._partial + chunk).split("\n")
        return self._add_lines(complete)

    def finish(self) -> list[LogRecord]:
        """Read the rest and parse the last line even without a newline."""
        new = self.poll()
        if self._handle is not None:
            tail = self._decoder.decode(b"", final=True)
            self.text += tail
            self._partial += tail
            self._handle.close()
            self._handle = None
        if self._partial:
            new += self._add_lines([self._partial])
            self._partial = ""
        return new


def _stop(proc: subprocess.Popen, grace: float = 0.0) -> None:
    """Wait up to ``grace`` seconds for QEMU to exit, then kill it."""
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def monitor_name(command) -> str:
    """The key of a monitor command's output in ``BootResult.monitor``."""
    return command.__name__ if callable(command) else command


def _query_monitor(socket_path: Path, commands: Sequence, hold_record=None) -> dict[str, str]:
    """Run the HMP commands over QMP, then ask QEMU to quit. A callable
    marked ``reads_hold_record`` is also given the ``holding for monitor``
    record, for the addresses the kernel printed there (chapter 14: the
    parent's PML4, to walk beside the held child's CR3)."""
    outputs: dict[str, str] = {}
    with QMPClient(socket_path).connect() as qmp:
        for command in commands:
            if callable(command) and getattr(command, "reads_hold_record", False):
                outputs[monitor_name(command)] = command(qmp.hmp, hold_record)
            else:
                outputs[monitor_name(command)] = command(qmp.hmp) if callable(command) else qmp.hmp(command)
        qmp.quit()
    return outputs


def _exit_byte(path: Path) -> int | None:
    """The first byte the guest wrote to the exit port, if it has written one."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1)
    except FileNotFoundError:
        return None
    return data[0] if data else None


def _outcome_for_status(status: int, codes: ExitCodes) -> str:
    if status == codes.success_status:
        return "success"
    if status == codes.failure_status:
        return "failure"
    if status == 0:
        return "reset"
    return "qemu-error"


def _check_socket_path(path: Path) -> None:
    # sun_path holds 108 bytes; a long TMPDIR would make QEMU fail obscurely.
    if len(os.fsencode(path)) >= 104:
        raise HarnessError(f"QMP socket path too long for a unix socket: {path}; set a shorter TMPDIR")


def boot(config: BootConfig) -> BootResult:
    """Boot ``config.chapter`` under QEMU and return what happened.

    Safe to call from several processes at once: each run has its own
    temporary directory and uses no TCP port (unless ``gdb_port`` is set).
    The directory is deleted afterwards unless ``KEEP_QEMU_RUNS=1``.
    Within one ``make test``, a boot its book step already made is read back
    instead (:mod:`harness.boot_logs`).
    """
    _built_image(config.chapter)  # name the missing chapter before the variable store needs a boot
    from .boot_logs import reuse  # boot_logs builds on this module

    kept = reuse(config)  # the same boot, made by this very `make test`'s book step (boot_logs.py)
    if kept is not None:
        return kept
    from .boot_logs import shared  # the same boot, made by another test module of this `make test`

    return shared(config, lambda: boot_from_vars(config, seasoned_vars(config.machine, config.chapter, config.disk_bus)))


def boot_from_vars(config: BootConfig, vars_template: Path, vars_out: Path | None = None) -> BootResult:
    """:func:`boot`, starting from the variable store ``vars_template``; with
    ``vars_out``, the store the firmware left is copied there before the run's
    directory goes (how :mod:`harness.firmware_vars` makes its kept store)."""
    codes = load_exit_codes()
    keep = os.environ.get(KEEP_ENV) == "1"
    run_dir = Path(tempfile.mkdtemp(prefix=f"qemu-{config.chapter}-"))
    try:
        files = prepare_run_dir(config, run_dir, vars_template)
        _check_socket_path(files.qmp)
        command = qemu_command(config, run_dir)
        result = _run(config, command, files, codes)
        if vars_out is not None:
            shutil.copyfile(files.vars, vars_out)
        if keep:
            result.run_dir = run_dir
        return result
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)


def _run(config: BootConfig, command: list[str], files: RunFiles, codes: ExitCodes) -> BootResult:
    """Start QEMU and watch it until it exits or the harness decides to stop it."""
    serial = _SerialTail(files.serial)
    outcome: str | None = None
    monitor: dict[str, str] = {}
    panic_seen_at: float | None = None
    held = False
    hold_record = None
    inspect = inspects_after_exit(config)
    guest_status: int | None = None  # what isa-debug-exit would have made of the exit byte

    with open(files.stderr, "wb") as qemu_output:
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                command,
                cwd=files.dir,
                stdin=subprocess.DEVNULL,
                stdout=qemu_output,
                stderr=qemu_output,
            )
        except FileNotFoundError:
            raise HarnessError(f"{command[0]} not found; install qemu-system-x86") from None
        try:
            while True:
                now = time.monotonic()
                for record in serial.poll():
                    if record.level == "PANIC" and panic_seen_at is None:
                        panic_seen_at = now
                    subsystem, prefix = HOLD_RECORD
                    if record.subsystem == subsystem and record.message.startswith(prefix):
                        held = True
                        hold_record = record
                if proc.poll() is not None:
                    break  # QEMU exited by itself: its status decides the outcome
                exit_byte = _exit_byte(files.exit_code) if inspect else None
                if exit_byte is not None:
                    # The guest's last word: it halts now, so this is the machine as it ended.
                    serial.poll()
                    monitor = _query_monitor(files.qmp, config.monitor_commands)
                    _stop(proc, QUIT_GRACE)
                    guest_status = qemu_status(exit_byte)
                    outcome = _outcome_for_status(guest_status, codes)
                    break
                if panic_seen_at is not None:
                    # The kernel exits right after a panic; if it does not, stop waiting.
                    if now - panic_seen_at > PANIC_GRACE:
                        proc.kill()
                        outcome = "panic-timeout"
                        break
                elif held:
                    # The guest is halted with interrupts off and will never exit by
                    # itself (even if "hold" came from the image's own cmdline.txt):
                    # inspect it, then quit.
                    monitor = _query_monitor(files.qmp, config.monitor_commands, hold_record)
                    _stop(proc, QUIT_GRACE)
                    outcome = "held"
                    break
                if now - start > config.timeout:
                    proc.kill()
                    outcome = "timeout"
                    break
                time.sleep(POLL_INTERVAL)
        finally:
            # Whatever happened (including an exception above), never leave QEMU running.
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        elapsed = time.monotonic() - start

    serial.finish()
    if outcome is None:
        outcome = _outcome_for_status(proc.returncode, codes)
    return BootResult(
        config=config,
        log=serial.text,
        records=serial.records,
        # A status of a process we killed (negative: the signal) means nothing to tests.
        exit_status=(guest_status if guest_status is not None
                     else None if outcome in ("timeout", "panic-timeout") else proc.returncode),
        outcome=outcome,
        elapsed=elapsed,
        monitor=monitor,
        stderr=files.stderr.read_text(encoding="utf-8", errors="replace"),
        command=command,
    )
