"""A chapter on a real PC: `make usb-image` and `make usb-stick`
(book/reference/real-hardware.md).

The image is checked byte by byte against the chapter's ESP, and booted in
QEMU the way a PC boots it: as a USB mass-storage device, from an empty UEFI
variable store, with the screen console showing the log that COM1 carries (there is
no serial port to read on most PCs). The stick writer's checks run against
fake sysfs trees and device numbers, one broken rule each; nothing in these
tests writes to a device.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness.inspections import screendump
from harness.qemu import boot_from_vars
from harness.screen import screen_against_log
from harness.usb_disk import PARTITION_START, SECTOR, partition_of, usb_disk

sys.path.insert(0, str(harness.REPO_ROOT / "scripts"))
import write_usb_stick  # noqa: E402

CHAPTER = harness.newest_chapter()
EFI_SYSTEM_PARTITION = 0xEF


@pytest.fixture(scope="module")
def usb_image(built) -> Path:
    # The reader's command (the newest chapter's), so the test rebuilds what it checks.
    subprocess.run(["make", "-s", "usb-image"], cwd=harness.REPO_ROOT, check=True)
    return harness.REPO_ROOT / "build" / CHAPTER / "usb.img"


def test_the_image_is_the_esp_in_one_efi_system_partition(usb_image):
    disk, esp = usb_image.read_bytes(), harness.chapter_image(CHAPTER).read_bytes()
    kind, first, count = partition_of(disk)
    assert (kind, first, count) == (EFI_SYSTEM_PARTITION, PARTITION_START, len(esp) // SECTOR)
    assert len(disk) == (first + count) * SECTOR
    inside = disk[first * SECTOR:]
    assert inside[:0x1C] == esp[:0x1C] and inside[0x20:] == esp[0x20:], "the FAT differs beyond its hidden-sectors field"
    assert int.from_bytes(inside[0x1C:0x20], "little") == PARTITION_START
    listing = subprocess.run(["mdir", "-b", "-/", "-i", f"{usb_image}@@{PARTITION_START * SECTOR}", "::"],
                             env=dict(os.environ, MTOOLS_SKIP_CHECK="1"), capture_output=True, text=True, check=True)
    assert {"::/EFI/BOOT/BOOTX64.EFI", "::/kernel.elf"} <= set(listing.stdout.split())


def test_something_that_is_not_a_fat_image_is_refused():
    with pytest.raises(ValueError, match="not a FAT"):
        usb_disk(bytes(4096))


@pytest.fixture(scope="module")
def stick_boot(built) -> harness.BootResult:
    # Debian's empty variable store, as on a PC that has never seen the stick:
    # no boot option names it, so the firmware must find \EFI\BOOT\BOOTX64.EFI
    # on the removable medium by itself.
    config = harness.BootConfig(CHAPTER, disk_bus="usb", monitor_commands=(screendump,))
    result = boot_from_vars(config, harness.OVMF_VARS)
    harness.assert_outcome(result, "success")
    return result


def test_the_firmware_boots_the_stick_from_usb(stick_boot):
    booted = [line for line in stick_boot.log.splitlines() if "BdsDxe: starting" in line]
    assert booted and "USB" in booted[-1], booted
    assert stick_boot.records[-1].event == "ready"


def test_the_screen_shows_what_com1_carries(stick_boot):
    reading = screen_against_log(stick_boot)
    assert reading.rows[reading.used - 1].text.startswith("[INFO  kernel] ready")


# ---- the stick writer's checks, on fake sysfs trees and device numbers -----------------

STICK, OTHER = os.makedev(8, 16), os.makedev(8, 32)


class _node:
    """What os.stat says of a block device node: its mode and device number."""
    def __init__(self, rdev: int):
        self.st_mode, self.st_rdev = stat.S_IFBLK | 0o660, rdev


def fake_sysfs(root: Path, name: str, rdev: int, removable="1", size_sectors=8 << 20, usb=False, sector="512",
               partitions=(), holders=()) -> Path:
    """/sys/class/block/NAME and /sys/dev/block/MAJ:MIN -> it, as the kernel lays them out."""
    parent = root / "devices" / ("pci0000:00/usb1/1-1/host0/block" if usb else "virtual/block")
    block = parent / name
    (block / "queue").mkdir(parents=True)
    (block / "holders").mkdir()
    (block / "removable").write_text(removable + "\n")
    (block / "size").write_text(f"{size_sectors}\n")
    (block / "dev").write_text(f"{os.major(rdev)}:{os.minor(rdev)}\n")
    (block / "queue" / "logical_block_size").write_text(sector + "\n")
    (block / "device").mkdir()
    (block / "device" / "vendor").write_text("Acme\n")
    (block / "device" / "model").write_text(f"Stick {name}\n")
    for holder in holders:
        (block / "holders" / holder).mkdir()
    for number, part in enumerate(partitions, 1):
        (block / part / "holders").mkdir(parents=True)
        (block / part / "partition").write_text(f"{number}\n")
        (block / part / "size").write_text("1048576\n")
        (block / part / "dev").write_text(f"{os.major(rdev)}:{os.minor(rdev) + number}\n")
    (root / "dev" / "block").mkdir(parents=True, exist_ok=True)
    (root / "dev" / "block" / f"{os.major(rdev)}:{os.minor(rdev)}").symlink_to(block)
    for number, part in enumerate(partitions, 1):
        (root / "dev" / "block" / f"{os.major(rdev)}:{os.minor(rdev) + number}").symlink_to(block / part)
    return root


def check(sysfs, device="/dev/sdb", rdev=STICK, mounts="", swaps="Filename Type Size Used Priority\n", extra=None):
    """check_device on a machine whose block device nodes are ``device`` and ``extra``."""
    nodes = {device: rdev, **(extra or {})}

    def stat_of(path: str) -> _node:
        if path not in nodes:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return _node(nodes[path])
    return write_usb_stick.check_device(device, 1 << 20, sysfs, mounts=mounts, swaps=swaps, stat_of=stat_of)


def test_a_removable_disk_is_accepted_with_its_model_size_and_partitions(tmp_path):
    stick = check(fake_sysfs(tmp_path, "sdb", STICK, partitions=("sdb1",)))
    assert (stick.name, stick.size, stick.model) == ("sdb", (8 << 20) * 512, "Acme Stick sdb")
    assert stick.partitions == ("sdb1 512MiB",)


def test_a_fixed_disk_on_usb_is_accepted(tmp_path):
    assert check(fake_sysfs(tmp_path, "sdb", STICK, removable="0", usb=True)).name == "sdb"


def test_the_disk_is_found_by_its_device_number_not_its_name(tmp_path):
    # A node called /dev/sdb whose device number is sdc's (a container's
    # --device mapping, an alias): the checks and the prompt are sdc's.
    sysfs = fake_sysfs(tmp_path, "sdc", OTHER)
    fake_sysfs(tmp_path / "unused", "sdb", STICK)
    stick = check(sysfs, device="/dev/sdb", rdev=OTHER)
    assert (stick.name, stick.model, stick.rdev) == ("sdc", "Acme Stick sdc", OTHER)


@pytest.mark.parametrize("shape, rule", [
    (dict(removable="0"), "must be removable or on USB"),
    (dict(size_sectors=16), "must hold the image"),
    (dict(sector="4096"), "must have 512-byte logical sectors"),
    (dict(holders=("dm-0",)), "must be held by nothing"),
])
def test_each_rule_of_the_disk_refuses_by_name(tmp_path, shape, rule):
    with pytest.raises(write_usb_stick.Refusal, match=rule) as refusal:
        check(fake_sysfs(tmp_path, "sdb", STICK, **shape))
    assert "device=/dev/sdb" in str(refusal.value)


def test_a_partition_is_refused_in_favour_of_its_disk(tmp_path):
    fake_sysfs(tmp_path, "sdb", STICK, partitions=("sdb1",))
    with pytest.raises(write_usb_stick.Refusal, match="must be a whole disk.*partition-1-of-sdb"):
        check(tmp_path, device="/dev/sdb1", rdev=STICK + 1)


def test_a_partition_mounted_under_any_name_is_found_by_its_device_number(tmp_path):
    sysfs = fake_sysfs(tmp_path, "sdb", STICK, partitions=("sdb1",))
    mounts = "/dev/disk/by-uuid/ab12 /media/stick vfat rw 0 0\n"
    with pytest.raises(write_usb_stick.Refusal, match="must not be mounted found=/dev/disk/by-uuid/ab12"):
        check(sysfs, mounts=mounts, extra={"/dev/disk/by-uuid/ab12": STICK + 1})


def test_a_partition_in_use_as_swap_is_refused(tmp_path):
    sysfs = fake_sysfs(tmp_path, "sdb", STICK, partitions=("sdb1",))
    swaps = "Filename Type Size Used Priority\n/dev/sdb1 partition 1048572 0 -2\n"
    with pytest.raises(write_usb_stick.Refusal, match="must not be swap found=/dev/sdb1"):
        check(sysfs, swaps=swaps, extra={"/dev/sdb1": STICK + 1})


def test_a_partition_held_by_device_mapper_is_refused(tmp_path):
    sysfs = fake_sysfs(tmp_path, "sdb", STICK, partitions=("sdb1",))
    (tmp_path / "devices" / "virtual" / "block" / "sdb" / "sdb1" / "holders" / "dm-0").mkdir()
    with pytest.raises(write_usb_stick.Refusal, match="sdb1-held-by-dm-0"):
        check(sysfs)


def test_a_device_without_a_sysfs_entry_is_refused(tmp_path):
    with pytest.raises(write_usb_stick.Refusal, match="must have a sysfs entry found=none-for-8:16"):
        check(tmp_path)


def test_files_and_character_devices_are_refused(tmp_path):
    image = tmp_path / "usb.img"
    image.write_bytes(b"x")
    for device, found in ((image, "a-regular-file"), (Path("/dev/null"), "a-character-device")):
        with pytest.raises(write_usb_stick.Refusal, match=f"must be a block device found={found}"):
            write_usb_stick.check_device(str(device), 1, tmp_path)


def test_make_usb_stick_refuses_a_file_and_writes_nothing(usb_image, tmp_path):
    target = tmp_path / "not-a-stick"
    target.write_bytes(b"keep me")
    done = subprocess.run(["make", "-s", "usb-stick", f"DEVICE={target}", "CONFIRM=yes"],
                          cwd=harness.REPO_ROOT, capture_output=True, text=True)
    assert done.returncode != 0
    assert "refused device=" in done.stderr and "nothing was written" in done.stderr
    assert target.read_bytes() == b"keep me"


def test_the_typed_name_is_the_only_confirmation(tmp_path):
    stick = write_usb_stick.Stick(tmp_path / "sdz", "sdz", STICK, 1 << 30, "Acme Stick", ("sdz1 1GiB",), "7")
    assert write_usb_stick.confirm(stick, answer_from=lambda prompt: "sdz\n")
    assert not write_usb_stick.confirm(stick, answer_from=lambda prompt: "y")


def test_the_image_is_written_the_tail_zeroed_and_read_back(tmp_path):
    device = tmp_path / "device"
    device.write_bytes(b"\xee" * (4 << 20))
    image = bytes(range(256)) * 64
    fd = os.open(device, os.O_RDWR)
    try:
        write_usb_stick.write_image(fd, image, 4 << 20)
    finally:
        os.close(fd)
    written = device.read_bytes()
    assert written[:len(image)] == image
    assert written[-write_usb_stick.TAIL:] == bytes(write_usb_stick.TAIL)  # no backup GPT survives
    assert written[len(image):-write_usb_stick.TAIL] == b"\xee" * ((4 << 20) - len(image) - write_usb_stick.TAIL)
