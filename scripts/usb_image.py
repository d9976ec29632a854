#!/usr/bin/python3
"""Writes a chapter's ESP as the disk of a USB stick (``make usb-image``).

    scripts/usb_image.py build/11-heap/disk.img build/11-heap/usb.img

The layout, and why, is tests/harness/usb_disk.py; the tests boot the same
layout in QEMU as a USB stick.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness.usb_disk import usb_disk  # noqa: E402


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: scripts/usb_image.py DISK_IMG USB_IMG")
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        disk = usb_disk(source.read_bytes())
    except (OSError, ValueError) as error:
        sys.exit(f"usb_image: {source}: {error}")
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(disk)
    tmp.replace(target)


if __name__ == "__main__":
    main()
