"""A run's private directory: copies of the chapter's ``disk.img`` and of the
UEFI variable store, edited for the run, and the names of the files QEMU
writes there (serial log, QMP socket, exit byte). The build tree is never
modified, so runs can go in parallel.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .boot_config import HOLD_WORD, BootConfig
from .disk_image import _esp_path, esp_delete, esp_read, esp_write
from .errors import MissingBuildError
from .usb_disk import usb_disk


@dataclass(frozen=True)
class RunFiles:
    """Names of the files inside a run directory."""

    dir: Path
    vars: Path    #: private copy of OVMF_VARS (firmware writes to it)
    image: Path   #: private copy of disk.img (the harness edits it)
    usb_image: Path  #: that copy as a USB stick's disk, for ``disk_bus="usb"``
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
            usb_image=run_dir / "usb.img",
            serial=run_dir / "serial.log",
            qmp=run_dir / "qmp.sock",
            stderr=run_dir / "qemu.stderr",
            exit_code=run_dir / "exit-code.bin",
        )


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
    if config.disk_bus == "usb":  # the edited copy, in the layout `make usb-image` writes
        files.usb_image.write_bytes(usb_disk(files.image.read_bytes()))
    elif config.disk_bus != "ide":
        raise ValueError(f"disk_bus {config.disk_bus!r}: must be 'ide' or 'usb'")
    return files
