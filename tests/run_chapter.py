#!/usr/bin/python3
"""Boot a chapter in QEMU interactively (``make run``) or for gdb (``make debug``).

Usage::

    tests/run_chapter.py run   [--chapter CH] [--memory M] [--smp N] [--cpu C]
                               [--machine T] [--cmdline "..."]
    tests/run_chapter.py debug [same options] [--port P]
    tests/run_chapter.py gdb-script [--chapter CH] [--port P] [--loader-base ADDR]

``run`` connects the guest's serial port to your terminal; quit with Ctrl-A
then X (Ctrl-A C toggles QEMU's monitor). ``debug`` does the same, but QEMU
starts paused with a gdb server on 127.0.0.1:PORT; attach with
``target remote :PORT`` (the Makefile starts gdb for you).

The command line comes from :func:`harness.qemu_command`, the very function
the tests use, so an interactive run matches a test run. QEMU works on copies
of the disk image and of the UEFI variable store, so the build tree is never
written to.

The script waits for QEMU and turns its exit status into a sentence (the
kernel's success/failure codes come from common/include/boot/exit_codes.h).
Copies live in ``$TMPDIR/uefi-tutorial-<uid>/run-<pid>-*`` and are removed
when QEMU ends; each start also deletes folders left by runs that were killed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.disk_image import esp_read  # noqa: E402
from harness import (  # noqa: E402
    BootConfig,
    HarnessError,
    QMPClient,
    QMPError,
    load_exit_codes,
    newest_chapter,
    prepare_run_dir,
    qemu_command,
    resolve_chapter,
)
from harness.asked_outcome import failure_request, unread_options  # noqa: E402
from harness.firmware_vars import seasoned_vars  # noqa: E402
from harness.gdb import gdb_script  # noqa: E402


def default_gdb_port() -> int:
    """A per-user port, so people sharing a machine do not collide."""
    return 20000 + os.getuid() % 10000


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but belongs to someone else
    return True


def make_run_dir() -> Path:
    """Create this run's private folder and remove the leftovers of finished runs."""
    parent = Path(tempfile.gettempdir()) / f"uefi-tutorial-{os.getuid()}"
    parent.mkdir(mode=0o700, exist_ok=True)
    for old in parent.glob("run-*-*"):
        pid_text = old.name.split("-")[1]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=parent))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--chapter", help="chapter to boot, e.g. 01-boot or 01 (default: newest)")
    common.add_argument("--memory", default="256M", help="guest RAM (default: %(default)s)")
    common.add_argument("--smp", type=int, default=1, help="number of CPUs (default: %(default)s)")
    common.add_argument("--cpu", default="max", help="CPU model (default: %(default)s)")
    common.add_argument("--machine", default="q35", help="machine type, q35 or pc (default: %(default)s)")
    common.add_argument("--cmdline", help="kernel command line (default: the image's cmdline.txt)")

    modes.add_parser("run", parents=[common], help="boot with the serial console on this terminal")
    debug = modes.add_parser("debug", parents=[common], help="boot paused, waiting for gdb")
    debug.add_argument(
        "--port", type=int, default=default_gdb_port(), help="gdb server port (default: %(default)s)"
    )
    script = modes.add_parser("gdb-script", parents=[common], help="print the gdb commands for make debug")
    script.add_argument("--port", type=int, default=default_gdb_port())
    script.add_argument("--loader-base", type=lambda text: int(text, 0),
                        help="BOOTX64.EFI's image base: load its symbols and stop at efi_main first")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        chapter = resolve_chapter(args.chapter) if args.chapter else newest_chapter()
        config = BootConfig(
            chapter=chapter,
            memory=args.memory,
            smp=args.smp,
            cpu=args.cpu,
            machine=args.machine,
            cmdline=args.cmdline,
            gdb_port=args.port if args.mode == "debug" else None,
        )
        if args.mode == "gdb-script":
            print(gdb_script(chapter, args.port, loader_image_base=args.loader_base), end="")
            return 0
        run_dir = make_run_dir()
        files = prepare_run_dir(config, run_dir, seasoned_vars(config.machine, config.chapter, config.disk_bus))
        cmdline = (esp_read(files.image, "cmdline.txt") or b"").decode("utf-8", "replace")
    except (HarnessError, ValueError, FileNotFoundError) as error:
        print(f"run_chapter.py: {error}", file=sys.stderr)
        return 2

    command = qemu_command(config, run_dir, interactive=True)
    print(f"QEMU: booting chapter {chapter}" + (f" with command line {cmdline!r}" if cmdline else ""))
    if config.gdb_port is not None:
        print(f"QEMU: paused, gdb server on 127.0.0.1:{config.gdb_port} (target remote :{config.gdb_port})")
    for word in unread_options(cmdline, chapter):
        print(f"QEMU: note: {chapter} reads no option {word.split('=', 1)[0]!r}; {word!r} changes nothing")
    print("QEMU: serial console below; quit with Ctrl-A then X", flush=True)
    # Ctrl-C belongs to the guest console (QEMU puts the terminal in raw mode);
    # this process only relays QEMU's output, then says how the run ended.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        status, events = run_qemu(command, files.qmp)
    except OSError as error:
        print(f"run_chapter.py: cannot start {command[0]}: {error}", file=sys.stderr)
        return 127
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    sentence, exit_status = describe_ending(status, events, cmdline, load_exit_codes(), chapter)
    print(f"QEMU: {sentence}")
    return exit_status


#: What OVMF writes to the serial console to clear the screen and set a text
#: mode: ESC [2J, ESC [01;01H and ESC [=3h. Passed through, they wipe the
#: reader's terminal (and the make output above the boot), so they are dropped;
#: everything else, colours and the monitor's line editing included, passes.
SCREEN_CONTROL = re.compile(rb"\x1b\[(?:2J|\d*;?\d*H|=\d+h)")
#: The start of a sequence SCREEN_CONTROL may still match once the next chunk
#: arrives, at the very end of what was read: only that is held back, so the
#: monitor's own line editing (ESC [K, ESC [D after each key) shows at once.
_UNFINISHED_CONTROL = re.compile(rb"\x1b(?:\[(?:\d*;?\d*|=\d*))?\Z")


def relay_console(source, sink) -> None:
    """Copy QEMU's terminal output to ``sink`` without SCREEN_CONTROL sequences."""
    pending = b""
    while chunk := os.read(source.fileno(), 4096):
        pending = SCREEN_CONTROL.sub(b"", pending + chunk)
        unfinished = _UNFINISHED_CONTROL.search(pending)
        keep = pending[unfinished.start():] if unfinished else b""
        sink.write(pending[: len(pending) - len(keep)])
        sink.flush()
        pending = keep
    sink.write(SCREEN_CONTROL.sub(b"", pending))
    sink.flush()


def run_qemu(command: list[str], qmp_socket: Path) -> tuple[int, list[dict]]:
    """Run QEMU on this terminal; return its exit status and the QMP events it
    sent (a ``SHUTDOWN`` event says who ended the machine: the console's Ctrl-A X,
    the monitor's ``quit``, or the guest resetting it)."""
    qemu = subprocess.Popen(command, stdout=subprocess.PIPE)  # stdin stays the terminal
    events: list[dict] = []

    def watch() -> None:
        try:
            with QMPClient(qmp_socket) as qmp:
                events.extend(qmp.events_until_closed())
        except (QMPError, OSError):
            pass  # QEMU ended before we could listen: the exit status must do

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    relay_console(qemu.stdout, sys.stdout.buffer)
    status = qemu.wait()
    watcher.join(timeout=2)
    return status, events


def describe_ending(status: int, events: list[dict], cmdline: str, codes, chapter: str | None = None) -> tuple[str, int]:
    """One sentence on how the run ended, and make's exit status for it: 0 when
    it ended as asked (ready, or the failure a `test.` option of this chapter
    asked for)."""
    request = failure_request(cmdline, chapter)
    if status == codes.success_status:
        if request:
            return f"the kernel exited with the success code, but {request} asked it to fail", 1
        return "the kernel exited with the success code", 0
    if status == codes.failure_status:
        if request:
            return f"the kernel stopped with the failure code, as {request} asked", 0
        return "the kernel exited with the FAILURE code (see the log above)", 1
    reasons = [event.get("data", {}).get("reason") for event in events if event.get("event") == "SHUTDOWN"]
    reason = reasons[-1] if reasons else None
    if reason in ("host-qmp-quit", "host-ui"):  # QEMU 7.2 reports Ctrl-A X as a monitor quit
        return "quit (Ctrl-A X, or `quit` in the monitor)", 0
    if reason == "host-signal":
        return "ended by a signal", 0
    if reason == "guest-reset":
        return ("the guest reset the machine without an exit code: a triple fault, or a reset "
                "the kernel asked for (-no-reboot turns it into an exit)"), 1
    return f"exited with status {status}" + (f" (QMP: {reason})" if reason else ""), (0 if status == 0 else 1)


if __name__ == "__main__":
    sys.exit(main())
