"""Boot a chapter under QEMU + OVMF and report what happened.

This is the heart of the test harness. One call to :func:`boot`:

1. makes a private temporary directory for the run, so runs can go in
   parallel (``pytest -n auto``) without sharing any file or port;
2. copies the chapter's ``disk.img`` and OVMF's variable store into it, and
   edits the image copy with mtools (``cmdline.txt``, replaced or deleted
   files), so the build tree is never modified;
3. starts ``qemu-system-x86_64`` with the serial port written to a file and a
   QMP socket for control;
4. watches the serial file until the guest exits, panics, holds or runs out
   of time; a run with monitor commands is inspected after the guest's exit
   code (see below);
5. returns a :class:`BootResult` with the log, the parsed records, QEMU's
   exit status and an *outcome* word that tests compare against.

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

Inspecting the finished machine: with ``BootConfig.monitor_commands`` set,
the exit device is swapped for a plain port that writes the guest's exit byte
to a file (``isa-debugcon``). The kernel halts right after writing it, so QEMU
keeps running with the address space exactly as the kernel left it; the
harness runs the monitor commands, quits QEMU, and reports the outcome and
exit status that byte would have given. The serial log is the same as a plain
boot's, which is why the book's boots can carry the tests' monitor readings
(:mod:`harness.boot_logs`). ``hold`` is the other way in, for a person at the
monitor: the kernel stops after ``ready`` and never exits by itself.

The same :func:`qemu_command` builds the command line for the tests and for
the interactive ``make run`` / ``make debug`` (``tests/run_chapter.py``), so
what you debug by hand is what the tests boot.
"""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from . import paths
from .firmware_vars import seasoned_vars
from .exit_codes import ExitCodes, load_exit_codes, qemu_status
from .log import LogRecord, clean_lines, find_record, iter_records, records_for, strip_ansi
from .qmp import QMPClient

#: The emulator binary; set ``QEMU=/path/to/qemu-system-x86_64`` to override.
QEMU_BINARY = os.environ.get("QEMU", "qemu-system-x86_64")

#: Word appended to the kernel command line to make it halt for inspection.
HOLD_WORD = "hold"
#: (subsystem, message prefix) of the line the kernel prints when holding.
HOLD_RECORD = ("kernel", "holding for monitor")

#: Seconds between looks at the serial log.
POLL_INTERVAL = 0.05
#: After a PANIC line the guest should exit at once; give it this long.
PANIC_GRACE = 2.0
#: How long QEMU may take to exit after a QMP "quit" before it is killed.
QUIT_GRACE = 10.0

#: Every value ``BootResult.outcome`` can take.
OUTCOMES = ("success", "failure", "reset", "timeout", "panic-timeout", "held", "qemu-error")

#: Set this environment variable to 1 to keep each run's temporary directory.
KEEP_ENV = "KEEP_QEMU_RUNS"


class HarnessError(RuntimeError):
    """The harness could not set up a run (as opposed to the guest failing)."""


class MissingBuildError(HarnessError):
    """A chapter's disk image has not been built."""


# ---------------------------------------------------------------------------
# Configuration and result
# ---------------------------------------------------------------------------


@dataclass
class BootConfig:
    """Everything that describes one QEMU run.

    Only ``chapter`` is required; the defaults boot a single-CPU q35 machine
    with 256 MiB of RAM, like ``make run`` does.
    """

    chapter: str
    """Chapter folder name, e.g. ``"01-boot"``; boots ``build/<chapter>/disk.img``."""
    memory: str = "256M"
    """Guest RAM, in QEMU's ``-m`` syntax."""
    smp: int = 1
    """Number of virtual CPUs."""
    cpu: str = "max"
    """CPU model. ``max`` enables every feature TCG can emulate."""
    machine: str = "q35"
    """Machine type: ``q35`` (PCIe, AHCI) or ``pc`` (i440FX, IDE)."""
    cmdline: str | None = None
    """Kernel command line, written to ``cmdline.txt`` in the image copy.
    ``None`` keeps whatever the built image contains."""
    hold: bool = False
    """Append ``hold`` to the command line, wait for the kernel's
    ``holding for monitor`` line, run :attr:`monitor_commands`, then quit."""
    monitor_commands: Sequence[str | Callable[[Callable[[str], str]], str]] = ()
    """HMP commands to run once the guest has written its exit code (or, with
    :attr:`hold`, once it holds), e.g. ``"info mem"``, ``"info registers"``.
    An entry may also be a function: it gets ``hmp`` (runs one HMP command and
    returns its output), for commands that depend on earlier answers such as
    a page walk with ``xp``, and its result is stored under its ``__name__``
    (:mod:`harness.inspections` has the ones the tests share)."""
    esp_files: Mapping[str, bytes | None] = field(default_factory=dict)
    """Files to change in the image copy: path -> new contents, or ``None`` to
    delete, e.g. ``{"kernel.elf": b"junk"}`` or ``{"EFI/BOOT/BOOTX64.EFI": None}``."""
    extra_args: Sequence[str] = ()
    """Additional QEMU arguments, appended last."""
    timeout: float = 120.0
    """Seconds before the run is killed. Generous: OVMF under TCG needs 3-8 s,
    and parallel runs on a loaded machine are slower."""
    gdb_port: int | None = None
    """If set, start paused (``-S``) with a gdb server on 127.0.0.1:PORT."""
    # -- wt-frames: the display device (for a framebuffer in guest RAM) --
    display: str = "VGA"
    """The display device: ``VGA``, a PCI card whose framebuffer is a BAR, or
    ``ramfb``, whose framebuffer OVMF's QemuRamfbDxe allocates in guest RAM
    (as reserved memory), as integrated GPUs have it."""


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


# ---------------------------------------------------------------------------
# Preparing a run directory
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFiles:
    """Names of the files inside a run directory."""

    dir: Path
    vars: Path    #: private copy of OVMF_VARS (firmware writes to it)
    image: Path   #: private copy of disk.img (the harness edits it)
    serial: Path  #: serial port output
    qmp: Path     #: QMP unix socket
    stderr: Path  #: QEMU's stdout and stderr
    exit_code: Path  #: the guest's exit byte, when the run is inspected after it

    @classmethod
    def in_dir(cls, run_dir: str | Path) -> "RunFiles":
        run_dir = Path(run_dir)
        return cls(
            dir=run_dir,
            vars=run_dir / "OVMF_VARS.fd",
            image=run_dir / "disk.img",
            serial=run_dir / "serial.log",
            qmp=run_dir / "qmp.sock",
            stderr=run_dir / "qemu.stderr",
            exit_code=run_dir / "exit-code.bin",
        )


def _mtools(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run an mtools command (``mcopy``, ``mdel``...) on a FAT image."""
    env = dict(os.environ)
    # mtools refuses images whose geometry looks odd to it; ours are fine.
    env["MTOOLS_SKIP_CHECK"] = "1"
    try:
        done = subprocess.run(
            args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
    except FileNotFoundError:
        raise HarnessError(f"{args[0]} not found; install the mtools package") from None
    if check and done.returncode != 0:
        raise HarnessError(f"{' '.join(args)} failed: {(done.stderr or done.stdout).strip()}")
    return done


def _esp_path(name: str) -> str:
    """``"EFI/BOOT/BOOTX64.EFI"`` -> ``"::EFI/BOOT/BOOTX64.EFI"`` (mtools' drive syntax)."""
    name = name.removeprefix("::").replace("\\", "/").strip("/")
    if not name:
        raise ValueError("empty file name in esp_files")
    return "::" + name


def esp_exists(image: Path, name: str) -> bool:
    """Does ``name`` (file or folder) exist in the FAT image?"""
    return _mtools("mdir", "-b", "-i", str(image), _esp_path(name), check=False).returncode == 0


def esp_read(image: Path, name: str) -> bytes | None:
    """Contents of ``name`` in the FAT image, or ``None`` if it does not exist."""
    if not esp_exists(image, name):
        return None
    with tempfile.TemporaryDirectory(dir=image.parent) as scratch:
        out = Path(scratch) / "file"
        _mtools("mcopy", "-n", "-i", str(image), _esp_path(name), str(out))
        return out.read_bytes()


def esp_write(image: Path, name: str, data: bytes) -> None:
    """Create or overwrite ``name`` in the FAT image, creating folders as needed."""
    target = _esp_path(name)
    parts = target[2:].split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        # mmd fails on existing folders, so only create the missing ones.
        if not esp_exists(image, folder):
            _mtools("mmd", "-i", str(image), "::" + folder)
    with tempfile.TemporaryDirectory(dir=image.parent) as scratch:
        source = Path(scratch) / "file"
        source.write_bytes(data)
        _mtools("mcopy", "-o", "-i", str(image), str(source), target)


def esp_delete(image: Path, name: str) -> None:
    """Delete ``name`` from the FAT image (an error if it does not exist)."""
    _mtools("mdel", "-i", str(image), _esp_path(name))


def _effective_cmdline(config: BootConfig, image: Path) -> str | None:
    """The command line to write into the image, or ``None`` to leave it alone."""
    cmdline = config.cmdline
    if config.hold:
        if cmdline is None:
            # Keep the image's own arguments and add "hold" to them.
            existing = esp_read(image, "cmdline.txt")
            cmdline = existing.decode("utf-8", "replace") if existing is not None else ""
        words = cmdline.split()
        if HOLD_WORD not in words:
            words.append(HOLD_WORD)
        cmdline = " ".join(words)
    return cmdline


def _built_image(chapter: str) -> Path:
    """The chapter's disk.img, or :class:`MissingBuildError` naming it."""
    source = paths.chapter_image(chapter)
    if not source.is_file():
        shown = source.relative_to(paths.REPO_ROOT) if source.is_relative_to(paths.REPO_ROOT) else source
        raise MissingBuildError(f"{shown} does not exist: run `make` first (chapter {chapter!r})")
    return source


def prepare_run_dir(config: BootConfig, run_dir: str | Path, vars_template: Path | None = None) -> RunFiles:
    """Fill ``run_dir`` with the copies QEMU will use, and apply the config's edits.

    ``vars_template`` is the UEFI variable store to copy: :func:`boot` passes
    the one kept from an earlier boot (:mod:`harness.firmware_vars`); the
    default is Debian's empty store.

    Raises :class:`MissingBuildError` if the chapter has not been built.
    """
    files = RunFiles.in_dir(run_dir)
    source = _built_image(config.chapter)
    if "cmdline.txt" in {_esp_path(name)[2:].lower() for name in config.esp_files} and (
        config.cmdline is not None
    ):
        raise ValueError("set either BootConfig.cmdline or esp_files['cmdline.txt'], not both")

    # copyfile() does not copy permissions: the copies are writable even
    # though Debian's OVMF files are read-only.
    shutil.copyfile(vars_template or paths.OVMF_VARS, files.vars)
    shutil.copyfile(source, files.image)

    for name, data in config.esp_files.items():
        if data is None:
            esp_delete(files.image, name)
        else:
            esp_write(files.image, name, bytes(data))

    cmdline = _effective_cmdline(config, files.image)
    if cmdline is not None:
        # No trailing newline: the kernel gets exactly these words.
        esp_write(files.image, "cmdline.txt", cmdline.encode("utf-8"))
    return files


# ---------------------------------------------------------------------------
# The QEMU command line
# ---------------------------------------------------------------------------


def _opt(path: Path) -> str:
    """Quote a path for a QEMU ``key=value,...`` option: commas are doubled."""
    return str(path).replace(",", ",,")


def inspects_after_exit(config: BootConfig) -> bool:
    """Does this run read the machine over the monitor once the guest has
    written its exit code? Every run with monitor commands that does not hold."""
    return bool(config.monitor_commands) and not config.hold


def qemu_command(config: BootConfig, run_dir: str | Path, interactive: bool = False) -> list[str]:
    """Build the QEMU argument list for ``config``, using the files in ``run_dir``.

    ``interactive=False`` (tests): serial output goes to ``run_dir/serial.log``,
    QEMU is controlled through a QMP socket, and there is no human monitor.

    ``interactive=True`` (``make run`` / ``make debug``): serial and the human
    monitor share the terminal (``-serial mon:stdio``); Ctrl-A X quits,
    Ctrl-A C switches between the guest console and the monitor.
    """
    files = RunFiles.in_dir(run_dir)
    codes = load_exit_codes()
    cmd = [
        QEMU_BINARY,
        # No default devices: the machine has exactly what is listed here. The
        # default CD-ROM drive, in particular, made OVMF try it first and print
        # `BdsDxe: failed to load Boot0001 "UEFI QEMU DVD-ROM" ... Not Found`
        # on every boot. (Bump firmware_vars.MACHINE_DEVICES with any change.)
        "-nodefaults",
        "-machine", config.machine,
        "-cpu", config.cpu,
        "-m", config.memory,
        "-smp", str(config.smp),
        # UEFI firmware: shared read-only code plus a private variable store.
        "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={_opt(paths.OVMF_CODE)}",
        "-drive", f"if=pflash,format=raw,unit=1,file={_opt(files.vars)}",
        # The FAT image as the first disk. The default interface (IDE) becomes
        # an AHCI port on q35 and a PIIX IDE disk on pc; OVMF boots either.
        "-drive", f"format=raw,file={_opt(files.image)}",
        # No network card: otherwise OVMF tries PXE boot first and wastes seconds.
        "-nic", "none",
        # The standard VGA card (OVMF's GOP driver gives the loader its
        # framebuffer), in the slot the default one had, but no window.
        "-device", config.display,
        "-display", "none",
        # A guest reset (e.g. triple fault) ends QEMU with status 0 instead of rebooting.
        "-no-reboot",
    ]
    if inspects_after_exit(config) and not interactive:
        # The exit byte goes to a file and QEMU runs on: the kernel halts right
        # after writing it, and the harness reads the machine as it was left.
        cmd += [
            "-chardev", f"file,id=exitcode,path={_opt(files.exit_code)}",
            "-device", f"isa-debugcon,iobase={codes.port:#x},chardev=exitcode",
        ]
    else:
        # Writing V to this port makes QEMU exit with status (V << 1) | 1.
        cmd += ["-device", f"isa-debug-exit,iobase={codes.port:#x},iosize=0x04"]
    if interactive:
        # The serial port and QEMU's monitor share the terminal; QMP only
        # tells run_chapter.py how QEMU ended (a quit, or the guest's reset).
        cmd += ["-serial", "mon:stdio", "-qmp", f"unix:{_opt(files.qmp)},server=on,wait=off"]
    else:
        cmd += [
            "-chardev", f"file,id=serial0,path={_opt(files.serial)}",
            "-serial", "chardev:serial0",
            "-qmp", f"unix:{_opt(files.qmp)},server=on,wait=off",
            "-monitor", "none",
        ]
    if config.gdb_port is not None:
        # -S: do not start the CPUs until the debugger says "continue".
        cmd += ["-S", "-gdb", f"tcp:127.0.0.1:{config.gdb_port}"]
    cmd += list(config.extra_args)
    return cmd


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


def _query_monitor(socket_path: Path, commands: Sequence) -> dict[str, str]:
    """Run the HMP commands over QMP, then ask QEMU to quit."""
    outputs: dict[str, str] = {}
    with QMPClient(socket_path).connect() as qmp:
        for command in commands:
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

    return shared(config, lambda: boot_from_vars(config, seasoned_vars(config.machine, config.chapter)))


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
                    monitor = _query_monitor(files.qmp, config.monitor_commands)
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
