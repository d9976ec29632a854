"""A chapter on a real PC: `make usb-image` and `make usb-stick`
(book/reference/real-hardware.md).

The image is checked byte by byte against the chapter's ESP, and booted in
QEMU the way a PC boots it: as a USB mass-storage device, on a fresh machine's
firmware, with the screen console showing the log that COM1 carries (there is
no serial port to read on most PCs). The stick writer's checks run against
fake sysfs trees, one broken rule each; nothing in these tests writes to a
device.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness.inspections import screendump
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
    result = harness.boot(harness.BootConfig(CHAPTER, disk_bus="usb", monitor_commands=(screendump,)))
    harness.assert_outcome(result, "success")
    return result


def test_the_firmware_boots_the_stick_from_usb(stick_boot):
    booted = [line for line in stick_boot.log.splitlines() if "BdsDxe: starting" in line]
    assert booted and "USB" in booted[-1], booted
    assert stick_boot.records[-1].event == "ready"


def test_the_screen_shows_what_com1_carries(stick_boot):
    reading = screen_against_log(stick_boot)
    assert reading.rows[reading.used - 1].text.startswith("[INFO  kernel] ready")


# ---- the stick writer's checks, on fake sysfs trees ---------------------------------


def some_block_device() -> Path:
    for entry in sorted(Path("/dev").iterdir()):
        try:
            if stat.S_ISBLK(entry.stat().st_mode):
                return entry
        except OSError:
            continue
    pytest.skip("no block device node on this machine to stand in for a stick")


def fake_sysfs(root: Path, name: str, removable="1", size_sectors=8 << 20, partition=None, usb=False,
               partitions=()) -> Path:
    block = root / "class" / "block" / name
    block.mkdir(parents=True)
    (block / "removable").write_text(removable + "\n")
    (block / "size").write_text(f"{size_sectors}\n")
    target = root / "devices" / ("pci0000:00/usb1/1-1/host0" if usb else "virtual/disk") / name
    (target / "device").mkdir(parents=True)
    (target / "device" / "vendor").write_text("Acme\n")
    (target / "device" / "model").write_text("Stick 3.0\n")
    (block / "device").symlink_to(target / "device")
    if partition is not None:
        (block / "partition").write_text(f"{partition}\n")
    for part in partitions:
        (block / part).mkdir()
        (block / part / "partition").write_text("1\n")
    return root


def test_a_removable_disk_is_accepted_with_its_model_and_size(tmp_path):
    device = some_block_device()
    stick = write_usb_stick.check_device(str(device), 1 << 20, fake_sysfs(tmp_path, device.resolve().name), mounts="")
    assert (stick.name, stick.size, stick.model) == (device.resolve().name, (8 << 20) * 512, "Acme Stick 3.0")


def test_a_fixed_disk_on_usb_is_accepted(tmp_path):
    device = some_block_device()
    sysfs = fake_sysfs(tmp_path, device.resolve().name, removable="0", usb=True)
    assert write_usb_stick.check_device(str(device), 1 << 20, sysfs, mounts="").name == device.resolve().name


@pytest.mark.parametrize("shape, rule", [
    (dict(removable="0"), "must be removable or on USB"),
    (dict(partition=1), "must be a whole disk"),
    (dict(size_sectors=16), "must hold the image"),
    (dict(partitions=("{name}1",)), "must not be mounted"),
])
def test_each_rule_refuses_by_name(tmp_path, shape, rule):
    device = some_block_device()
    name = device.resolve().name
    shape = {k: tuple(p.format(name=name) for p in v) if k == "partitions" else v for k, v in shape.items()}
    sysfs = fake_sysfs(tmp_path, name, **shape)
    mounts = f"/dev/{name}1 /media/stick vfat rw 0 0\n"
    with pytest.raises(write_usb_stick.Refusal, match=rule) as refusal:
        write_usb_stick.check_device(str(device), 1 << 20, sysfs, mounts=mounts)
    assert f"device={device}" in str(refusal.value)


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
    stick = write_usb_stick.Stick(tmp_path / "sdz", "sdz", 1 << 30, "Acme Stick")
    assert write_usb_stick.confirm(stick, answer_from=lambda prompt: "sdz\n")
    assert not write_usb_stick.confirm(stick, answer_from=lambda prompt: "y")


def test_the_write_is_read_back(tmp_path):
    image, device = tmp_path / "usb.img", tmp_path / "device"
    image.write_bytes(bytes(range(256)) * 64)
    device.write_bytes(bytes(1 << 16))
    write_usb_stick.write(image, write_usb_stick.Stick(device, "device", 1 << 16, "file"))
    assert device.read_bytes()[:len(image.read_bytes())] == image.read_bytes()
