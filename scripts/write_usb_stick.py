#!/usr/bin/python3
"""Writes a chapter's USB image to a USB stick (``make usb-stick``), after
making sure the device is one and nobody uses it.

    scripts/write_usb_stick.py build/11-heap/usb.img /dev/sdX [--yes]

Writing a disk image destroys what the device held, so a wrong letter costs a
disk. The device is looked up by its device number (not its name, which a
container or an alias may give to another disk), and must be: a block device
with a sysfs entry; a whole disk, not a partition; removable or attached over
USB; of 512-byte logical sectors (the image's partition table counts in
those); held by nothing (no device-mapper, RAID or LVM on it), mounted
nowhere and no swap, partitions included; large enough. Each refusal names
the device, the rule and what was found, and nothing is written. Then the
device's model, size and partitions are shown and the reader types the
device name to go on (``--yes``, make's ``CONFIRM=yes``, skips only that
question). Without the right to write the device the script runs itself
again under ``sudo``, which checks everything again and writes only if the
disk is still the one confirmed (its ``diskseq``). The write goes through one
exclusive descriptor (the kernel refuses it while any partition is in use),
the last MiB is zeroed too (a backup GPT left there would make tools call
the stick corrupt), and the image is read back from the device, past the
page cache.
"""

from __future__ import annotations

import argparse
import errno
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

SECTOR = 512
TAIL = 1 << 20  # zeroed at the end of the device: where a backup GPT lives


class Refusal(Exception):
    """A rule the device broke; nothing has been written."""


@dataclass(frozen=True)
class Stick:
    device: Path        #: the path the reader named
    name: str           #: the kernel's name for it, sdX
    rdev: int           #: its device number
    size: int           #: bytes
    model: str
    partitions: tuple[str, ...]  #: "sdX1 512MiB", ...
    diskseq: str        #: the kernel's sequence number for this disk ("" on old kernels)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _rdev_of(text: str) -> int | None:
    """``"8:17"`` (a sysfs ``dev`` file) -> the device number."""
    major, _, minor = text.partition(":")
    return os.makedev(int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def _size(sectors: str) -> str:
    value = int(sectors or 0) * SECTOR
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value}{unit}"
        value //= 1024
    return ""


def check_device(device: str, image_size: int, sys_root: Path = Path("/sys"), mounts: str | None = None,
                 swaps: str | None = None, stat_of: Callable[[str], os.stat_result] = os.stat) -> Stick:
    """The stick behind ``device``, or :class:`Refusal` naming the rule it breaks.
    ``sys_root``, ``mounts`` and ``swaps`` (the texts of /proc/self/mounts and
    /proc/swaps) and ``stat_of`` are the machine's unless given."""
    def refuse(rule: str, found: str) -> Refusal:
        return Refusal(f"device={device} rule={rule} found={found}")

    try:
        st = stat_of(device)
    except OSError as error:
        raise refuse("must exist", (error.strerror or "error").lower().replace(" ", "-")) from None
    if not stat.S_ISBLK(st.st_mode):
        kind = "a-regular-file" if stat.S_ISREG(st.st_mode) else "a-character-device" if stat.S_ISCHR(st.st_mode) else "not-a-disk"
        raise refuse("must be a block device", kind)
    link = sys_root / "dev" / "block" / f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    if not link.exists():
        raise refuse("must have a sysfs entry", f"none-for-{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}")
    block = link.resolve()
    name = block.name
    if (block / "partition").exists():
        raise refuse("must be a whole disk, not a partition", f"partition-{_read(block / 'partition')}-of-{block.parent.name}")
    removable = _read(block / "removable") == "1"
    on_usb = "/usb" in str((block / "device").resolve()) if (block / "device").exists() else False
    if not (removable or on_usb):
        raise refuse("must be removable or on USB", f"fixed-disk-{name}")
    sector = _read(block / "queue" / "logical_block_size") or str(SECTOR)
    if sector != str(SECTOR):
        raise refuse("must have 512-byte logical sectors (the image's partition table counts in them)", f"{sector}-bytes")
    parts = sorted(p for p in block.iterdir() if (p / "partition").exists()) if block.is_dir() else []
    for node in [block, *parts]:
        holders = sorted(h.name for h in (node / "holders").iterdir()) if (node / "holders").is_dir() else []
        if holders:
            raise refuse("must be held by nothing (device-mapper, RAID, LVM)", f"{node.name}-held-by-{','.join(holders)}")
    ours = {st.st_rdev} | {r for p in parts if (r := _rdev_of(_read(p / "dev"))) is not None}

    def in_use(source: str) -> bool:
        try:
            s = stat_of(source)
        except OSError:
            return False
        return stat.S_ISBLK(s.st_mode) and s.st_rdev in ours

    mount_text = mounts if mounts is not None else _read(Path("/proc/self/mounts"))
    mounted = sorted({f.split()[0] for f in mount_text.splitlines() if f.split() and in_use(f.split()[0])})
    if mounted:
        raise refuse("must not be mounted", f"{','.join(mounted)}-(umount-them-first)")
    swap_text = swaps if swaps is not None else _read(Path("/proc/swaps"))
    swapping = sorted({f.split()[0] for f in swap_text.splitlines()[1:] if f.split() and in_use(f.split()[0])})
    if swapping:
        raise refuse("must not be swap", ",".join(swapping))
    size = int(_read(block / "size") or 0) * SECTOR
    if size < image_size:
        raise refuse(f"must hold the image ({image_size} bytes)", f"{size}-bytes")
    model = " ".join(filter(None, (_read(block / "device" / "vendor"), _read(block / "device" / "model")))) or "unknown"
    partitions = tuple(f"{p.name} {_size(_read(p / 'size'))}" for p in parts)
    return Stick(Path(device), name, st.st_rdev, size, model, partitions, _read(block / "diskseq"))


def confirm(stick: Stick, answer_from=input) -> bool:
    holds = ", ".join(stick.partitions) or "no partitions"
    print(f"usb-stick: about to overwrite {stick.device} ({stick.name}: {stick.model}, {_size(str(stick.size // SECTOR))}, "
          f"{holds}): everything on it will be lost.")
    return answer_from(f"usb-stick: type {stick.name} to go on: ").strip() == stick.name


def write_image(fd: int, data: bytes, device_size: int) -> None:
    """Writes ``data`` at the start of ``fd`` and zeroes its last MiB, then
    reads ``data`` back from the device itself (the page cache dropped)."""
    def write_all(offset: int, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written

    write_all(0, data)
    if device_size >= len(data) + TAIL:
        write_all(device_size - TAIL, bytes(TAIL))
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # the read below goes to the device
    back = bytearray()
    while len(back) < len(data):
        piece = os.pread(fd, len(data) - len(back), len(back))
        if not piece:
            break
        back += piece
    if bytes(back) != data:
        raise SystemExit("usb-stick: the image read back from the device differs: the stick may be failing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("device", nargs="?", default="")
    parser.add_argument("--yes", action="store_true", help="skip the typed confirmation")
    parser.add_argument("--confirmed-diskseq", default=None, help=argparse.SUPPRESS)  # from the run before sudo
    args = parser.parse_args()
    if not args.device:
        sys.exit("usb-stick: name the stick: make usb-stick DEVICE=/dev/sdX (lsblk -o NAME,TRAN,SIZE,MODEL lists them)")
    data = args.image.read_bytes()
    try:
        stick = check_device(args.device, len(data))
    except Refusal as refusal:
        sys.exit(f"usb-stick: refused {refusal}; nothing was written")
    if args.confirmed_diskseq is not None and args.confirmed_diskseq != stick.diskseq:
        sys.exit(f"usb-stick: refused device={args.device} rule=must be the disk confirmed "
                 f"found=diskseq-{stick.diskseq}-not-{args.confirmed_diskseq}; nothing was written")
    if args.confirmed_diskseq is None and not args.yes and not confirm(stick):
        sys.exit("usb-stick: not confirmed; nothing was written")
    try:
        fd = os.open(args.device, os.O_RDWR | os.O_EXCL | os.O_CLOEXEC)
    except PermissionError:
        if os.geteuid() == 0:
            sys.exit(f"usb-stick: cannot open {args.device} for writing even as root; nothing was written")
        print(f"usb-stick: {args.device} is not writable by you; going on under sudo, which checks it again")
        os.execvp("sudo", ["sudo", sys.executable, str(Path(__file__).resolve()), str(args.image.resolve()), args.device,
                           f"--confirmed-diskseq={stick.diskseq}"])
    except OSError as error:
        if error.errno == errno.EBUSY:
            sys.exit(f"usb-stick: refused device={args.device} rule=must be in use by nothing found=busy "
                     "(a partition mounted or held); nothing was written")
        sys.exit(f"usb-stick: cannot open {args.device}: {error.strerror}; nothing was written")
    try:
        if os.fstat(fd).st_rdev != stick.rdev:
            sys.exit(f"usb-stick: refused device={args.device} rule=must be the disk checked found=another-device; "
                     "nothing was written")
        write_image(fd, data, stick.size)
    finally:
        os.close(fd)
    print(f"usb-stick: wrote {len(data)} bytes to {args.device} and read them back from it; "
          "boot it as book/reference/real-hardware.md says")


if __name__ == "__main__":
    main()
