"""Chapter 03: the boot frame allocator hands out only free frames.

Two boots. The first runs the kernel's self-test (thousands of frames, each
checked against the map and the loader's objects, stamped and read back). The
second also allocates until the allocator says no. Both are compared with an
independent count of free frames made here from the loader's own dump of the
memory map.
"""

from __future__ import annotations

import pytest

import harness
from harness.inspections import inspected_boot
from harness.log import int_field, loader_memory_map, size_field
from harness.protections import check_protections

CHAPTER = "03-frame-allocator"
PAGE = 4096
LOWEST_FRAME = 1 << 20  # the allocator never hands out memory below 1 MiB
# UEFI 2.10, Table 7-6, but for loader code: it holds the handover trampoline,
# executable in the bootstrap tables this chapter runs on, so the kernel keeps it.
FREE_AFTER_EXIT = {"conventional", "boot-code", "boot-data", "loader-data"}


def expected_free_frames(result) -> int:
    """Frames at or above 1 MiB in memory the UEFI spec lets the OS reuse."""
    frames = 0
    for type_name, start, end in loader_memory_map(result.records):
        if type_name in FREE_AFTER_EXIT:
            frames += max(0, end - max(start, LOWEST_FRAME)) // PAGE
    return frames


def one(result, event):
    matches = [r for r in result.records_for("frames") if r.event == event]
    assert len(matches) == 1, f"expected one '[frames] {event}' line, found {len(matches)}"
    return matches[0]


def usable_ranges(result):
    return [(int_field(r, "start"), int_field(r, "end")) for r in result.records_for("memmap")
            if r.event == "range" and r.fields["kind"] == "usable"]


def in_usable(result, address, size=PAGE):
    return any(s <= address and address + size <= e for s, e in usable_ranges(result))


class TestSelfTest:
    @pytest.fixture(scope="class")
    def run(self, built):
        result = harness.boot(inspected_boot(CHAPTER, "loader.dump-map"))  # the boot the chapter's page quotes
        harness.assert_outcome(result, "success")
        return result

    def test_self_test_passed_without_warnings(self, run):
        passed = one(run, "self-test passed")
        assert int_field(passed, "frames") == 4096 and size_field(passed, "bytes") == 4096 * PAGE
        assert int_field(passed, "duplicates") == 0
        harness.assert_ready_without_warnings(run)

    def test_protections_seen_by_qemu(self, run):
        check_protections(run, CHAPTER)

    def test_free_frames_equal_an_independent_count_from_the_loaders_map(self, run):
        ready = one(run, "allocator ready")
        free_frames = size_field(ready, "free") // PAGE + int_field(ready, "reserve")
        assert free_frames == expected_free_frames(run)
        assert int_field(ready, "reserve") == 16
        assert int_field(ready, "lowest") == LOWEST_FRAME

    def test_regions_lie_in_usable_memory_above_1mib(self, run):
        regions = [r for r in run.records_for("frames") if r.event == "region"]
        assert len(regions) == int_field(one(run, "allocator ready"), "regions") > 0
        for r in regions:
            start, end = int_field(r, "start"), int_field(r, "end")
            assert start >= LOWEST_FRAME and start % PAGE == 0 and end % PAGE == 0
            assert in_usable(run, start, end - start), f"region {start:#x}-{end:#x}"
            assert int_field(r, "handed-out") + int_field(r, "remaining") == (end - start) // PAGE

    def test_frames_it_reported_are_free_memory_and_not_loader_objects(self, run):
        passed = one(run, "self-test passed")
        loader = {r.event: r for r in run.records_for("loader")}
        kernel_pa = int_field(loader["kernel loaded"], "pa")
        kernel_end = kernel_pa + size_field(loader["kernel loaded"], "size")
        for key in ("first", "last", "table-frame"):
            frame = int_field(passed, key)
            assert in_usable(run, frame), f"{key}={frame:#x}"
            assert not (kernel_pa <= frame < kernel_end)

    def test_statistics_balance(self, run):
        stats = one(run, "stats")
        usage = [r for r in run.records_for("frames") if r.event == "usage"]
        assert sum(int_field(r, "handed-out") for r in usage) == int_field(stats, "handed-out")
        assert sum(int_field(r, "remaining") for r in usage) == int_field(stats, "remaining")
        # The self-test's frames, the full reserve, and the one table frame the reserve was refilled for.
        assert int_field(stats, "handed-out") == 4096 + int_field(stats, "reserve") + 1
        assert int_field(stats, "handed-out") + int_field(stats, "remaining") == expected_free_frames(run)


class TestExhaustion:
    @pytest.fixture(scope="class")
    def run(self, built):
        # The book's boot too (chapters/03-frame-allocator/README.md): make test reads it back.
        result = harness.boot(harness.BootConfig(CHAPTER, cmdline="loader.dump-map test.exhaust"))
        harness.assert_outcome(result, "success")
        return result

    def test_every_free_frame_is_handed_out_exactly_once_then_out_of_memory(self, run):
        exhausted = one(run, "exhausted")
        assert int_field(exhausted, "remaining") == 0
        assert int_field(exhausted, "handed-out") == expected_free_frames(run)

    def test_page_tables_still_get_the_reserve_after_exhaustion(self, run):
        after = one(run, "reserve after exhaustion")
        assert int_field(after, "page-table-frames") == int_field(after, "reserve-capacity") == 16
        assert [r for r in run.records_for("kernel") if r.event == "ready"]
