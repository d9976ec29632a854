"""Reading and editing files in a FAT disk image (the chapter's EFI system
partition) with mtools, without mounting it.

:func:`harness.run_dir.prepare_run_dir` applies a run's edits to its private
copy of ``disk.img``; ``make run`` reads the copy's ``cmdline.txt``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from .errors import HarnessError


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
