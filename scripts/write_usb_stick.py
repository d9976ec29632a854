#!/usr/bin/python3
"""Writes a chapter's USB image to a USB stick (``make usb-stick``), after
making sure the device is one.

    scripts/write_usb_stick.py build/11-heap/usb.img /dev/sdX [--yes]

Writing a disk image destroys what the device held, so a wrong letter costs a
disk. Before writing, the device must be: a block device; a whole disk, not a
partition; removable or attached over USB (as the kernel's sysfs says);
unmounted, partitions included; large enough. Each refusal names the device,
the rule and what was found, and nothing is written. Then the device's model
and size are shown and the reader types the device name to go on (``--yes``,
make's ``CONFIRM=yes``, skips only that question). The write goes through
``sudo dd`` when the device is not writable by the user, and is read back.
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SECTOR = 512


class Refusal(Exception):
    """A rule the device broke; nothing has been written."""


@dataclass(frozen=True)
class Stick:
    device: Path    #: /dev/sdX
    name: str       #: sdX
    size: int       #: bytes
    model: str


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def check_device(device: str, image_size: int, sys_root: Path = Path("/sys"),
                 mounts: str | None = None) -> Stick:
    """The stick behind ``device``, or :class:`Refusal` naming the rule it breaks.
    ``sys_root`` and ``mounts`` (the text of /proc/self/mounts) are the
    machine's unless given."""
    path = Path(device)
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise Refusal(f"device={device} rule=must exist found={error.strerror.lower()}") from None
    if not stat.S_ISBLK(mode):
        kind = "a regular file" if stat.S_ISREG(mode) else "a character device" if stat.S_ISCHR(mode) else "not a disk"
        raise Refusal(f"device={device} rule=must be a block device found={kind.replace(' ', '-')}")
    name = path.resolve().name
    block = sys_root / "class" / "block" / name
    if (block / "partition").exists():
        raise Refusal(f"device={device} rule=must be a whole disk, not a partition "
                      f"found=partition-{_read(block / 'partition')}")
    removable = _read(block / "removable") == "1"
    on_usb = "/usb" in str((block / "device").resolve()) if (block / "device").exists() else False
    if not (removable or on_usb):
        raise Refusal(f"device={device} rule=must be removable or on USB found=fixed-disk "
                      "(a stick that reports itself fixed can still be written with dd, by hand)")
    partitions = {p.name for p in block.iterdir() if (p / "partition").exists()} if block.is_dir() else set()
    mounted = sorted({line.split()[0] for line in (mounts if mounts is not None else _read(Path("/proc/self/mounts"))).splitlines()
                      if line.split() and Path(line.split()[0]).name in partitions | {name}})
    if mounted:
        raise Refusal(f"device={device} rule=must not be mounted found={','.join(mounted)} (umount them first)")
    size = int(_read(block / "size") or 0) * SECTOR
    if size < image_size:
        raise Refusal(f"device={device} rule=must hold the image ({image_size} bytes) found={size}-bytes")
    model = " ".join(filter(None, (_read(block / "device" / "vendor"), _read(block / "device" / "model")))) or "unknown"
    return Stick(path, name, size, model)


def confirm(stick: Stick, answer_from=input) -> bool:
    print(f"usb-stick: about to overwrite {stick.device} ({stick.model}, {stick.size / 2**30:.1f} GiB): "
          "everything on it will be lost.")
    return answer_from(f"usb-stick: type {stick.name} to go on: ").strip() == stick.name


def write(image: Path, stick: Stick) -> None:
    data = image.read_bytes()
    if os.access(stick.device, os.W_OK | os.R_OK):
        with open(stick.device, "r+b", buffering=0) as disk:
            disk.write(data)
            os.fsync(disk.fileno())
            disk.seek(0)
            if disk.read(len(data)) != data:
                raise SystemExit(f"usb-stick: read-back of {stick.device} differs from {image}")
    else:
        print(f"usb-stick: {stick.device} is not writable by you; writing with sudo dd")
        subprocess.run(["sudo", "dd", f"if={image}", f"of={stick.device}", "bs=4M", "conv=fsync", "status=progress"],
                       check=True)
        subprocess.run(["sudo", "cmp", "-n", str(len(data)), str(image), str(stick.device)], check=True)
    print(f"usb-stick: wrote and read back {len(data)} bytes to {stick.device}; "
          "boot it as book/reference/real-hardware.md says")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("device", nargs="?", default="")
    parser.add_argument("--yes", action="store_true", help="skip the typed confirmation")
    args = parser.parse_args()
    if not args.device:
        sys.exit("usb-stick: name the stick: make usb-stick CH=... DEVICE=/dev/sdX (lsblk -o NAME,TRAN,SIZE,MODEL lists them)")
    try:
        stick = check_device(args.device, args.image.stat().st_size)
    except Refusal as refusal:
        sys.exit(f"usb-stick: refused {refusal}; nothing was written")
    if not args.yes and not confirm(stick):
        sys.exit("usb-stick: not confirmed; nothing was written")
    write(args.image, stick)


if __name__ == "__main__":
    main()
