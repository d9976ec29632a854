"""Chapter 02: the kernel reads, validates and normalises the memory map.

Boots at three memory sizes, each checked against two oracles outside the
kernel: the loader's own dump of the same map (``loader.dump-map``) and QEMU's
``info memory_size_summary`` (the RAM the machine was given). Then the kernel
is made to damage a copy of its handoff (``test.corrupt=…``) and must reject
each kind of damage by name.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

import harness
from harness.inspections import inspected_boot
from harness.log import int_field, loader_memory_map, only, size_field
from harness.protections import check_protections

CHAPTER = "02-memory-map"
PAGE = 4096
MiB = 1 << 20

# The firmware describes every byte of RAM except the legacy VGA/option-ROM
# hole at 0xA0000-0xFFFFF (384 KiB): that is the whole allowed difference
# between the configured RAM and the memory the kernel counts (RAM, plus the
# memory the firmware reserved, which the kernel lists but never maps).
RAM_TOLERANCE = 1 * MiB

# An independent reading of the UEFI types (UEFI 2.10, Table 7-6), written
# again here on purpose rather than imported from the kernel: the types that
# are RAM (when the firmware lets them be cached write-back) and their kinds.
KIND_OF_RAM_TYPE = {
    "conventional": "usable", "boot-code": "usable", "boot-data": "usable",
    "loader-code": "loader-code", "loader-data": "usable",  # loader code holds the trampoline: kept
    "kernel-image": "kernel-image", "boot-handoff": "boot-handoff",
    "boot-page-tables": "boot-page-tables", "boot-stack": "boot-stack",
    "acpi-reclaim": "acpi-reclaim", "acpi-nvs": "acpi-nvs",
    "runtime-code": "firmware-runtime", "runtime-data": "firmware-runtime",
}
#: Not RAM, and no news: the kernel lists them without a `not ram` line.
KNOWN_OTHER_TYPES = {"reserved", "unusable", "mmio", "mmio-port", "pal-code", "persistent", "unaccepted"}
CLASS_OF_KIND = {
    "usable": "usable",
    "kernel-image": "loader-owned", "boot-handoff": "loader-owned",
    "boot-page-tables": "loader-owned", "boot-stack": "loader-owned", "loader-code": "loader-owned",
    "acpi-reclaim": "firmware", "acpi-nvs": "firmware", "firmware-runtime": "firmware",
    "reserved": "reserved", "framebuffer": "reserved",
    "device": "device",
}
RAM_CLASSES = ("usable", "loader-owned", "firmware")
EFI_MEMORY_WB = 0x8


def boot_inspected(memory: str) -> harness.BootResult:
    """The boot with the loader's map dump, read over the monitor after its
    exit code; at the default 256M it is the one the chapter's page quotes."""
    result = harness.boot(dataclasses.replace(inspected_boot(CHAPTER, "loader.dump-map"), memory=memory))
    harness.assert_outcome(result, "success")
    return result


def kernel_descriptors(result):
    return [
        (r.fields["type"], int_field(r, "start"), int_field(r, "end"), int(r.fields["attributes"], 16))
        for r in result.records_for("memmap") if r.event == "descriptor"
    ]


def kernel_ranges(result):
    return [(r.fields["kind"], int_field(r, "start"), int_field(r, "end"), r.fields["class"])
            for r in result.records_for("memmap") if r.event == "range"]


def configured_ram(result) -> int:
    match = re.search(r"base memory:\s*(\d+)", result.monitor["info memory_size_summary"])
    assert match, result.monitor["info memory_size_summary"]
    return int(match[1])


def expected_kind(type_name: str, attributes: int) -> str:
    """The type says whether it is RAM; without WB it cannot be mapped as RAM.
    Nothing else is ever RAM: cacheable memory is the firmware's (reserved),
    the rest device memory, and MMIO is device memory whatever it allows."""
    if type_name in KIND_OF_RAM_TYPE:
        return KIND_OF_RAM_TYPE[type_name] if attributes & EFI_MEMORY_WB else "reserved"
    if type_name in ("mmio", "mmio-port"):
        return "device"
    return "reserved" if attributes & EFI_MEMORY_WB else "device"


def refused(type_name: str, attributes: int) -> bool:
    """Whether the kernel must say `not ram` about a descriptor."""
    if type_name in KIND_OF_RAM_TYPE:
        return not attributes & EFI_MEMORY_WB
    return type_name not in KNOWN_OTHER_TYPES


class MemoryMapChecks:
    """Every check, run on one boot per memory size (one class each, so the
    three boots run in parallel)."""

    MEMORY: str

    @pytest.fixture(scope="class")
    def finished(self, built):
        return boot_inspected(self.MEMORY)

    def test_ready_without_warnings(self, finished):
        harness.assert_ready_without_warnings(finished)

    def test_protections_seen_by_qemu(self, finished):
        check_protections(finished, CHAPTER)

    def test_descriptor_table_equals_the_loaders_dump(self, finished):
        ours = kernel_descriptors(finished)
        loader = loader_memory_map(finished.records)
        assert len(ours) == int_field(only(finished, "memmap", "handoff valid"), "descriptors") == len(loader)
        assert [(t, s, e) for t, s, e, _ in ours] == loader
        attributes = [int(r.fields["attribute"], 16) for r in finished.records if r.subsystem == "loader" and r.event == "map"]
        assert [a for *_, a in ours] == attributes

    def test_ranges_are_sorted_disjoint_and_merged(self, finished):
        ranges = kernel_ranges(finished)
        for (kind_a, _, end_a, _), (kind_b, start_b, _, _) in zip(ranges, ranges[1:]):
            assert end_a <= start_b, "ranges must be sorted and disjoint"
            assert not (end_a == start_b and kind_a == kind_b), "touching ranges of one kind must be merged"
        for kind, start, end, cls in ranges:
            assert start % PAGE == 0 and end % PAGE == 0 and start < end
            assert CLASS_OF_KIND[kind] == cls

    def test_every_descriptor_lands_in_a_range_of_its_kind(self, finished):
        ranges = kernel_ranges(finished)
        covered = 0
        for type_name, start, end, attributes in kernel_descriptors(finished):
            holders = [r for r in ranges if r[1] <= start and end <= r[2]]
            assert len(holders) == 1, f"{type_name} {start:#x}-{end:#x} is in {len(holders)} ranges"
            assert holders[0][0] == expected_kind(type_name, attributes), f"{type_name} at {start:#x}"
            covered += end - start
        assert covered == sum(end - start for _, start, end, _ in ranges), "ranges cover more than the map"

    def test_refused_descriptors_are_named(self, finished):
        """A RAM type without WB or an unknown type gets a `not ram` line, and
        nothing else does (OVMF gives neither, so there are none)."""
        expected = [start for type_name, start, _, attributes in kernel_descriptors(finished)
                    if refused(type_name, attributes)]
        lines = [r for r in finished.records_for("memmap") if r.event == "not ram"]
        assert [int_field(r, "start") for r in lines] == expected

    def test_totals_add_up_and_agree_with_the_configured_ram(self, finished):
        totals = only(finished, "memmap", "totals")
        ranges = kernel_ranges(finished)
        for cls in ("usable", "loader-owned", "firmware", "reserved", "device"):
            assert size_field(totals, cls) == sum(e - s for _, s, e, c in ranges if c == cls), cls
        ram = size_field(totals, "ram")
        assert ram == sum(size_field(totals, cls) for cls in RAM_CLASSES)
        configured = configured_ram(finished)
        memory = ram + size_field(totals, "reserved")
        assert configured - RAM_TOLERANCE <= memory <= configured, f"ram={ram} memory={memory} configured={configured}"
        assert int_field(totals, "ram-end") == max(e for _, _, e, c in ranges if c in RAM_CLASSES)
        assert int_field(totals, "ranges") == len(ranges)
        assert size_field(totals, "usable") > configured // 2, "most of a fresh machine's RAM is free"

    def test_the_framebuffer_is_set_aside_once_with_what_the_map_had_there(self, finished):
        """The GOP framebuffer is never RAM to the kernel, whatever the map
        calls it: one `set aside` line with its page-rounded range, the kinds
        the descriptors give it (computed here from the descriptors) and the
        bytes that had been RAM. On this machine (a VGA card) it is a PCI BAR
        the map does not describe; a framebuffer the map calls usable is
        reached by host tests only (tests/host/memory_map_test.cpp), and
        QEMU's ramfb, in reserved RAM, by tests/test_06_mmio.py."""
        loader = only(finished, "loader", "framebuffer")
        base, size = int_field(loader, "base"), size_field(loader, "size")
        start, end = base - base % PAGE, -(-(base + size) // PAGE) * PAGE
        line = only(finished, "memmap", "set aside")
        assert (line.fields["what"], int_field(line, "start"), int_field(line, "end")) == ("framebuffer", start, end)
        overlapped = [(expected_kind(t, a), max(s, start), min(e, end))
                      for t, s, e, a in kernel_descriptors(finished) if s < end and start < e]
        kinds = sorted({k for k, _, _ in overlapped}, key=list(CLASS_OF_KIND).index)
        assert line.fields["was"] == ("+".join(kinds) or "undescribed")
        assert size_field(line, "ram") == sum(e - s for k, s, e in overlapped if CLASS_OF_KIND[k] in RAM_CLASSES)
        framebuffer_ranges = [(s, e) for k, s, e, _ in kernel_ranges(finished) if k == "framebuffer"]
        assert all(start <= s and e <= end for s, e in framebuffer_ranges)
        assert sum(e - s for s, e in framebuffer_ranges) == sum(e - s for _, s, e in overlapped)

    def test_loader_objects_sit_in_their_own_kind(self, finished):
        objects = {r.fields["name"]: r for r in finished.records_for("memmap") if r.event == "loader object"}
        assert set(objects) == {"kernel-image", "handoff", "memory-map", "bootstrap-pml4", "boot-stack"}
        ranges = kernel_ranges(finished)
        for name, record in objects.items():
            start, size = int_field(record, "start"), size_field(record, "size")
            kind = [k for k, s, e, _ in ranges if s <= start and start + size <= e]
            assert kind == [record.fields["kind"]], name
        # The same addresses as the loader reported them when it made them.
        loader = {r.event: r for r in finished.records_for("loader")}
        assert int_field(objects["kernel-image"], "start") == int_field(loader["kernel loaded"], "pa")
        assert int_field(objects["handoff"], "start") == int_field(loader["jump to kernel"], "handoff")
        assert int_field(objects["bootstrap-pml4"], "start") == int_field(loader["bootstrap tables"], "pml4")


class TestMemoryMap256M(MemoryMapChecks):
    MEMORY = "256M"


class TestMemoryMap1G(MemoryMapChecks):
    MEMORY = "1G"


class TestMemoryMap4G(MemoryMapChecks):
    MEMORY = "4G"

    def test_ram_above_4gib_is_found_past_the_pci_hole(self, finished):
        ranges = kernel_ranges(finished)
        assert any(s >= 1 << 32 and k == "usable" for k, s, _, _ in ranges)
        assert any(k == "device" and s < 1 << 32 for k, s, _, _ in ranges), "the PCI hole's ECAM/flash are device"


# (test.corrupt value, field, words of the rule, names a descriptor index)
CORRUPTIONS = [
    ("descriptor-size", "descriptor_size", "must be at least 40 (sizeof EFI_MEMORY_DESCRIPTOR)", False),
    ("descriptor-stride", "descriptor_size", "must be a multiple of 8", False),
    ("map-size", "memory_map_size", "must be a multiple of descriptor_size", False),
    ("null-map", "memory_map", "must not be null", False),
    ("version", "version", "must equal the kernel's kHandoffVersion", False),
    ("overlap", "descriptor.physical_start", "must not overlap an earlier descriptor", True),
    ("overflow", "descriptor.number_of_pages", "start + pages * 4 KiB must end below 2^52", True),
    ("misaligned", "descriptor.physical_start", "must be 4 KiB aligned", True),
]


@pytest.fixture(scope="module")
def every_corruption(built):
    """One boot with test.corrupt=all: each damage on fresh copies, each through the real validation."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.corrupt=all", timeout=60))
    harness.assert_outcome(result, "failure")
    return result


def rejections(result) -> dict[str, list]:
    """corruption -> its WARN line and the records after it, up to the next one."""
    return harness.sweep_segments(result.records, "validating a corrupted copy of the handoff", "corruption", "memmap")


def test_every_corruption_is_tried_then_the_boot_fails(every_corruption):
    assert list(rejections(every_corruption)) == [c[0] for c in CORRUPTIONS]
    summary = [r for r in every_corruption.records_for("memmap") if r.event == "every corruption tried"]
    assert len(summary) == 1 and summary[0] is every_corruption.records[-1]
    assert int_field(summary[0], "kinds") == len(CORRUPTIONS) and int_field(summary[0], "accepted") == 0
    assert not [r for r in every_corruption.records_for("memmap") if r.event == "handoff valid"]
    assert not [r for r in every_corruption.records_for("kernel") if r.event == "ready"]


@pytest.mark.parametrize("corruption,field,rule,indexed", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_corrupted_handoff_is_rejected_by_name(every_corruption, corruption, field, rule, indexed):
    errors = [r for r in rejections(every_corruption)[corruption] if r.level == "ERROR"]
    assert len(errors) == 1, [str(e) for e in errors]
    error = errors[0]
    assert (error.subsystem, error.event) == ("memmap", "handoff rejected")
    assert error.fields["field"] == field
    assert error.fields["rule"] == rule
    assert ("index" in error.fields) == indexed


def test_one_bad_handoff_ends_the_boot_with_its_rejection(built):
    """A single damage, as a reader tries it: the rejection is the last word, then the failure code."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.corrupt=overlap", timeout=60))
    error = harness.the_rejection(result)
    assert (error.event, error.fields["field"]) == ("handoff rejected", "descriptor.physical_start")
