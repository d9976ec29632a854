"""What one boot reported: :class:`BootResult`, and the checks tests make on it.

How a run can end (``BootResult.outcome``):

``"success"``        the guest wrote ``ExitCode::kSuccess`` to isa-debug-exit
``"failure"``        the guest wrote ``ExitCode::kFailure``
``"reset"``          QEMU exited 0: the guest reset (``-no-reboot`` turns a
                     reboot, e.g. after a triple fault, into an exit)
``"held"``           the kernel printed ``holding for monitor`` (``hold`` on its
                     command line); the harness ran the monitor commands and
                     quit QEMU itself
``"panic-timeout"``  a ``[PANIC ...]`` line appeared but QEMU did not exit soon after
``"timeout"``        nothing decisive happened within ``BootConfig.timeout``
``"qemu-error"``     QEMU itself failed (bad option, missing file...);
                     see ``BootResult.stderr``

A run inspected after its exit code (:func:`harness.boot_config.inspects_after_exit`)
reports the outcome and status that code would have given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .boot_config import BootConfig
from .log import LogRecord, clean_lines, find_record, records_for, strip_ansi

#: Every value ``BootResult.outcome`` can take.
OUTCOMES = ("success", "failure", "reset", "timeout", "panic-timeout", "held", "qemu-error")


@dataclass
class BootResult:
    """What happened during one :func:`boot`."""

    config: BootConfig
    log: str
    """Raw serial output, escape sequences and all (see :attr:`clean_log`)."""
    records: list[LogRecord]
    """Our ``[LEVEL subsystem]`` lines, parsed, in order."""
    exit_status: int | None
    """QEMU's exit status; ``None`` if the harness had to kill QEMU. A run
    inspected after its exit code reports the status that code gives."""
    outcome: str
    """One of :data:`OUTCOMES`."""
    elapsed: float
    """Seconds from starting QEMU until it was gone."""
    monitor: dict[str, str] = field(default_factory=dict)
    """Output of each of :attr:`BootConfig.monitor_commands`: command (or
    function name) -> text."""
    stderr: str = ""
    """Whatever QEMU printed on stdout/stderr (warnings, errors)."""
    command: list[str] = field(default_factory=list)
    """The QEMU command line that was run."""
    run_dir: Path | None = None
    """The run's temporary directory if it was kept (``KEEP_QEMU_RUNS=1``)."""

    @property
    def clean_log(self) -> str:
        """The serial log without escape sequences and carriage returns."""
        return strip_ansi(self.log)

    def record(self, subsystem: str, prefix: str = "") -> LogRecord | None:
        """First record from ``subsystem`` whose message starts with ``prefix``."""
        return find_record(self.records, subsystem, prefix)

    def records_for(self, subsystem: str) -> list[LogRecord]:
        """All records from ``subsystem``."""
        return records_for(self.records, subsystem)

    def tail(self, n: int = 40) -> str:
        """The last ``n`` non-empty lines of the cleaned serial log."""
        lines = [line for line in clean_lines(self.log) if line.strip()]
        return "\n".join(lines[-n:])

    def describe(self, lines: int = 40) -> str:
        """A multi-line summary for failure messages: outcome, log tail, stderr."""
        parts = [
            f"chapter {self.config.chapter}: outcome={self.outcome} "
            f"exit_status={self.exit_status} elapsed={self.elapsed:.1f}s",
            f"--- last {lines} serial lines ---",
            self.tail(lines) or "(no serial output)",
        ]
        if self.stderr.strip():
            parts += ["--- QEMU stderr ---", self.stderr.rstrip()]
        if self.run_dir is not None:
            parts.append(f"--- run directory kept at {self.run_dir} ---")
        return "\n".join(parts)


def assert_outcome(result: BootResult, expected: str | Iterable[str]) -> None:
    """Raise ``AssertionError`` with the log tail unless the outcome is ``expected``.

    ``expected`` is one outcome or a collection of acceptable ones.
    """
    wanted = {expected} if isinstance(expected, str) else set(expected)
    unknown = wanted - set(OUTCOMES)
    if unknown:
        raise ValueError(f"not outcomes: {sorted(unknown)}; choose from {OUTCOMES}")
    if result.outcome not in wanted:
        want = " or ".join(sorted(wanted))
        raise AssertionError(f"expected outcome {want}, got {result.outcome}\n{result.describe()}")


def assert_ready_without_warnings(result: BootResult) -> None:
    """The kernel printed ``ready`` and no line is WARN, ERROR or PANIC: the
    ordinary end of a boot (:func:`the_rejection` is the other one)."""
    assert [r for r in result.records_for("kernel") if r.event == "ready"], result.describe()
    noisy = [str(r) for r in result.records if r.level in ("WARN", "ERROR", "PANIC")]
    assert not noisy, noisy


def the_rejection(result: BootResult) -> LogRecord:
    """The one ERROR line of a boot that a single bad input ended: the failure
    code, exactly one ERROR line, and that line the last word. Returns it."""
    assert_outcome(result, "failure")
    errors = [r for r in result.records if r.level == "ERROR"]
    assert len(errors) == 1 and errors[0] is result.records[-1], [str(e) for e in errors]
    return errors[0]
