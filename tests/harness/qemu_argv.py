"""The QEMU command line for a :class:`~harness.boot_config.BootConfig`.

The same :func:`qemu_command` builds it for the tests and for the interactive
``make run`` / ``make debug`` (``tests/run_chapter.py``), so what you debug by
hand is what the tests boot.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import paths
from .boot_config import BootConfig, inspects_after_exit
from .exit_codes import load_exit_codes
from .run_dir import RunFiles

#: The emulator binary; set ``QEMU=/path/to/qemu-system-x86_64`` to override.
QEMU_BINARY = os.environ.get("QEMU", "qemu-system-x86_64")


def _opt(path: Path) -> str:
    """Quote a path for a QEMU ``key=value,...`` option: commas are doubled."""
    return str(path).replace(",", ",,")



def _disk(config: BootConfig, files: RunFiles) -> list[str]:
    """The chapter's disk, on the bus the config names."""
    if config.disk_bus == "usb":
        # A USB stick, as on a real PC: the partitioned image on a USB
        # mass-storage device behind an xHCI controller.
        return ["-device", "qemu-xhci,id=xhci",
                "-drive", f"if=none,id=stick,format=raw,file={_opt(files.usb_image)}",
                "-device", "usb-storage,bus=xhci.0,drive=stick,removable=on"]
    # The FAT image as the first disk. The default interface (IDE) becomes
    # an AHCI port on q35 and a PIIX IDE disk on pc; OVMF boots either.
    return ["-drive", f"format=raw,file={_opt(files.image)}"]


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
        *_disk(config, files),
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
