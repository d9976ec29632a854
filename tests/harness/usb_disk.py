"""A chapter's EFI system partition as the disk of a USB stick.

``disk.img`` is a bare FAT file system (a "superfloppy"): OVMF boots it, and
so do many PCs, but not all firmware looks for a file system on a disk without
a partition table. :func:`usb_disk` puts the same file system inside the
layout every UEFI firmware must read from removable media: a master boot
record with one partition of type 0xEF, the UEFI system partition (UEFI 2.10,
5.2.1 "Legacy Master Boot Record (MBR)", Table 5-2: OSType 0xEF), starting at
1 MiB as partitioning tools align it. The FAT's "hidden sectors" field is set
to that start, as a formatter would write it for a partition.

``make usb-image`` writes it (scripts/usb_image.py), and the harness boots the
same layout in QEMU as a USB mass-storage device (``BootConfig.disk_bus =
"usb"``), so what the tests boot is what the reader writes to a stick
(book/reference/real-hardware.md).
"""

from __future__ import annotations

import struct
from pathlib import Path

SECTOR = 512
PARTITION_START = 2048  # sectors: 1 MiB
EFI_SYSTEM_PARTITION = 0xEF
MBR_SIGNATURE = b"\x55\xaa"
FAT_HIDDEN_SECTORS = 0x1C  # BPB_HiddSec: the same offset in FAT12, FAT16 and FAT32


def usb_disk(fat: bytes) -> bytes:
    """The whole disk: MBR, the gap to 1 MiB, the FAT file system."""
    if len(fat) % SECTOR or len(fat) < SECTOR or fat[510:512] != MBR_SIGNATURE:
        raise ValueError("not a FAT file system image (size not whole sectors, or no 0x55AA boot signature)")
    sectors = len(fat) // SECTOR
    if PARTITION_START + sectors > 0xFFFF_FFFF:
        raise ValueError(f"{sectors} sectors do not fit an MBR partition entry")
    partition = bytearray(fat)
    struct.pack_into("<I", partition, FAT_HIDDEN_SECTORS, PARTITION_START)

    mbr = bytearray(SECTOR)
    # One entry: not active (UEFI ignores the flag), CHS fields left at the
    # "use LBA" values 0xFFFFFE, type 0xEF, first LBA, number of sectors.
    entry = struct.pack("<B3sB3sII", 0x00, b"\xfe\xff\xff", EFI_SYSTEM_PARTITION, b"\xfe\xff\xff",
                        PARTITION_START, sectors)
    mbr[446:446 + 16] = entry
    mbr[510:512] = MBR_SIGNATURE
    gap = bytes((PARTITION_START - 1) * SECTOR)
    return bytes(mbr) + gap + bytes(partition)


def partition_of(disk: bytes) -> tuple[int, int, int]:
    """(type, first sector, sector count) of the disk's first MBR partition."""
    if disk[510:512] != MBR_SIGNATURE:
        raise ValueError("no MBR signature")
    _status, _chs, kind, _chs_end, first, count = struct.unpack_from("<B3sB3sII", disk, 446)
    return kind, first, count
