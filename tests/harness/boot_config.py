"""What one QEMU run is: :class:`BootConfig`, the chapter, the machine shape
(chipset, RAM, CPU model and count), the kernel command line, the edits to
the image copy and the monitor readings to take.

:mod:`harness.qemu_argv` turns it into QEMU's argument list,
:mod:`harness.run_dir` into the files the run uses, and :func:`harness.qemu.boot`
runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

#: Word appended to the kernel command line to make it halt for inspection.
HOLD_WORD = "hold"
#: (subsystem, message prefix) of the line the kernel prints when holding.
HOLD_RECORD = ("kernel", "holding for monitor")


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
    disk_bus: str = "ide"
    """How the chapter's disk is attached: ``ide`` (QEMU's default interface:
    an AHCI port on q35, a PIIX IDE channel on pc) boots ``disk.img`` as it
    is; ``usb`` boots it as a USB stick, in the partitioned layout
    ``make usb-image`` writes (scripts/usb_image.py), on an xHCI controller."""
    display: str = "VGA"
    """The display device: ``VGA``, a PCI card whose framebuffer is a BAR, or
    ``ramfb``, whose framebuffer OVMF's QemuRamfbDxe allocates in guest RAM
    (as reserved memory), as integrated GPUs have it."""



def inspects_after_exit(config: BootConfig) -> bool:
    """Does this run read the machine over the monitor once the guest has
    written its exit code? Every run with monitor commands that does not hold."""
    return bool(config.monitor_commands) and not config.hold

