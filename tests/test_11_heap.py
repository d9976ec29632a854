"""Chapter 11: the steady-state frame allocator and the kernel heap.

One boot with the loader's map dump, the one the chapter's page quotes, is
read over the monitor after its exit code: the frames the
bitmap manages, and those it reclaimed from boot services and the loader, are
counted again here from the loader's own dump of the UEFI map; the stress
self-test must pass and balance; QEMU's ``info tlb`` must show the heap RW+NX
with its guard page absent. A further boot touches the heap's guard page
(chapter 10's page-fault report must name it). One boot makes every kind of
bad free in turn (``test.bad-free=all``), each refused by name, and one makes
a single bad free, whose refusal ends the boot with the failure code.
"""

from __future__ import annotations

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot
from harness.log import int_field, loader_memory_map, size_field
from harness.monitor import parse_info_tlb
from harness.protections import check_protections
from harness.screen import screen_against_log

CHAPTER = "11-heap"
PAGE = 4096
LOWEST_FRAME = 1 << 20
HEAP_GUARD = 0xFFFF_E000_0000_0000
HEAP_START = HEAP_GUARD + PAGE
HEAP_WINDOW_END = HEAP_GUARD + (64 << 30)
# UEFI 2.10, Table 7-6: memory the OS may use after ExitBootServices, but for
# loader code, which the kernel keeps (it holds the handover trampoline).
USABLE_TYPES = {"conventional", "boot-code", "boot-data", "loader-data"}
RECLAIMED_TYPES = USABLE_TYPES - {"conventional"}


def frames_by_type(result) -> dict[str, int]:
    """Frames at or above 1 MiB per usable UEFI type, from the loader's dump."""
    counts: dict[str, int] = {}
    for type_name, start, end in loader_memory_map(result.records):
        if type_name in USABLE_TYPES and end > LOWEST_FRAME:
            counts[type_name] = counts.get(type_name, 0) + (end - max(start, LOWEST_FRAME)) // PAGE
    return counts


@pytest.fixture(scope="module")
def finished(built):
    result = harness.boot(inspected_boot(CHAPTER, "loader.dump-map"))
    harness.assert_outcome(result, "success")
    return result


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_ready_without_warnings(finished):
    harness.assert_ready_without_warnings(finished)


def test_usable_frames_per_type_equal_the_loaders_map(finished):
    expected = frames_by_type(finished)
    logged = {r.fields["type"]: int_field(r, "frames") for r in finished.records_for("frames") if r.event == "usable"}
    assert logged == {t: n for t, n in expected.items() if n}
    for r in finished.records_for("frames"):
        if r.event == "usable":
            assert size_field(r, "bytes") == int_field(r, "frames") * PAGE


def test_reclaimed_boot_services_memory_equals_the_loaders_map(finished):
    reclaimed = only(finished, "frames", "reclaimed")
    expected = sum(n for t, n in frames_by_type(finished).items() if t in RECLAIMED_TYPES)
    assert expected > 0, "OVMF always leaves boot-services memory behind"
    assert int_field(reclaimed, "frames") == expected
    assert size_field(reclaimed, "bytes") == expected * PAGE


def test_the_bitmap_covers_every_usable_frame_and_inherits_the_boot_allocators_record(finished):
    handover = only(finished, "frames", "handover")
    assert int_field(handover, "frames") == sum(frames_by_type(finished).values())
    assert int_field(handover, "used") + int_field(handover, "free") == int_field(handover, "frames")
    # In use at the handover: what the boot allocator handed out (its reserve
    # included), the bitmap's own frames, and the frames that topped the
    # moved reserve up to its capacity.
    assert int_field(handover, "reserve") == 16
    assert int_field(handover, "used") == (int_field(handover, "inherited") + int_field(handover, "bitmap-frames")
                                           + int_field(handover, "reserve") - int_field(handover, "reserve-moved"))
    assert int_field(handover, "bitmap-frames") == -(-int_field(handover, "frames") // (8 * PAGE))
    assert int_field(handover, "bitmap") >= LOWEST_FRAME and int_field(handover, "bitmap") % PAGE == 0
    usable = [(int_field(r, "start"), int_field(r, "end")) for r in finished.records_for("memmap")
              if r.event == "range" and r.fields["kind"] == "usable"]
    bitmap = int_field(handover, "bitmap")
    assert any(s <= bitmap and bitmap + int_field(handover, "bitmap-frames") * PAGE <= e for s, e in usable)


def test_stress_passed_and_balanced(finished):
    frames = only(finished, "frames", "stress passed")
    # Every frame of every round checked; a second round hands out frames the first freed.
    assert int_field(frames, "rounds") >= 2
    assert int_field(frames, "pattern-checks") == int_field(frames, "frames") * int_field(frames, "rounds") > 0
    assert int_field(frames, "used-before") == int_field(frames, "used-after")
    assert int_field(frames, "free-before") == int_field(frames, "free-after")
    heap = only(finished, "heap", "stress passed")
    # About half the operations allocate: over a thousand blocks, every one freed.
    assert int_field(heap, "allocations") == int_field(heap, "frees") > max(1000, int_field(heap, "operations") // 3)
    assert int_field(heap, "max-live") >= 100
    assert int_field(heap, "live-after") == 0 and int_field(heap, "used-after") == 0
    assert int_field(heap, "frames-taken") == int_field(heap, "heap-pages") + int_field(heap, "tables")
    assert int_field(heap, "heap-pages") * PAGE == size_field(heap, "grew")
    assert int_field(heap, "blocks") == int_field(heap, "free-blocks") == 1  # all merged back
    before, after = (only(finished, "frames", "stats", when=w) for w in ("before-stress", "after-stress"))
    assert int_field(after, "used") - int_field(before, "used") == int_field(heap, "frames-taken")
    assert int_field(after, "total") == int_field(before, "total") == int_field(only(finished, "frames", "handover"), "frames")
    heap_before, heap_after = (only(finished, "heap", "stats", when=w) for w in ("before-stress", "after-stress"))
    for key in ("used", "live", "failures"):
        assert int_field(heap_before, key) == int_field(heap_after, key) == 0, key
    assert size_field(heap_after, "mapped") - size_field(heap_before, "mapped") == size_field(heap, "grew")


def test_heap_phase_and_verification(finished):
    phase = only(finished, "paging", "phase create_heap")
    assert int_field(phase, "va") == HEAP_START and int_field(phase, "guard") == HEAP_GUARD
    assert phase.fields["flags"] == "P|RW|NX" and phase.fields["frames-from"] == "bitmap"
    regions = {r.fields["name"]: r for r in finished.records_for("verify") if r.event == "region"}
    assert regions["heap-guard"].fields["flags"] == "not-present" and regions["heap-guard"].fields["ok"] == "yes"
    heap = regions["heap"]
    assert heap.fields["ok"] == "yes" and heap.fields["flags"] == "P|RW|NX"
    mapped = size_field(only(finished, "heap", "stats", when="after-stress"), "mapped")
    assert int_field(heap, "va") == HEAP_START and size_field(heap, "size") == mapped
    assert int_field(heap, "pages-4k") == mapped // PAGE
    assert only(finished, "verify", "audit").fields["ok"] == "yes"


def test_heap_in_qemus_tlb_is_rw_nx_and_its_guard_absent(finished):
    mapped = size_field(only(finished, "heap", "stats", when="after-stress"), "mapped")
    tlb = {e.va & (1 << 64) - 1: e for e in parse_info_tlb(finished.monitor["info tlb"])}
    heap = {va: e for va, e in tlb.items() if HEAP_GUARD <= va < HEAP_WINDOW_END}
    assert HEAP_GUARD not in heap
    assert sorted(heap) == list(range(HEAP_START, HEAP_START + mapped, PAGE))
    for va, e in heap.items():
        assert e.writable and e.no_execute and not e.user and not e.huge, f"{va:#x} {e.flags}"
    frames = {e.pa for e in heap.values()}
    assert len(frames) == len(heap), "two heap pages share a frame"
    usable = [(int_field(r, "start"), int_field(r, "end")) for r in finished.records_for("memmap")
              if r.event == "range" and r.fields["kind"] == "usable"]
    assert all(any(s <= pa < e for s, e in usable) and pa >= LOWEST_FRAME for pa in frames)


def test_a_touch_of_the_heap_guard_is_a_reported_page_fault(built):
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.heap-guard", timeout=60))
    harness.assert_outcome(result, "failure")
    fault = only(result, "fault", "page fault")
    assert int_field(fault, "address") == HEAP_GUARD
    assert fault.fields["cause"] == "guard-page" and fault.fields["region"] == "guard-heap"
    assert fault.fields["access"] == "read" and fault.fields["present"] == "no"
    frame = only(result, "fault", "frame")
    assert frame.fields["name"] == "page-fault" and int_field(frame, "cr2") == HEAP_GUARD
    assert not [r for r in result.records_for("heap") if r.event == "the guard page was readable"]
    assert not [r for r in result.records_for("kernel") if r.event == "ready"]


# (test.bad-free value, subsystem, address key, reason)
BAD_FREES = [
    ("frame-double", "frames", "frame", "double-free"),
    ("frame-foreign", "frames", "frame", "foreign-frame"),
    ("heap-double", "heap", "ptr", "double-free"),
    ("heap-overrun", "heap", "ptr", "overrun"),
]


@pytest.fixture(scope="module")
def every_bad_free(built):
    """One boot with test.bad-free=all: each bad free in turn, each through the real free functions."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.bad-free=all", timeout=60))
    harness.assert_outcome(result, "failure")
    return result


def bad_frees(result) -> dict[str, list]:
    """kind -> its 'a bad free on request' WARN line (frames or heap) and the records after it, up to the next one."""
    return harness.sweep_segments(result.records, "a bad free on request", "kind")


def test_every_bad_free_is_tried_then_the_boot_fails(every_bad_free):
    by_kind = bad_frees(every_bad_free)
    assert list(by_kind) == [b[0] for b in BAD_FREES]
    before = every_bad_free.records[:every_bad_free.records.index(by_kind[BAD_FREES[0][0]][0])]
    assert not [r for r in before if r.level in ("WARN", "ERROR", "PANIC")], "the boot was clean up to the sweep"
    summary = only(every_bad_free, "kernel", "every bad free tried")
    assert summary is every_bad_free.records[-1]
    assert int_field(summary, "kinds") == len(BAD_FREES) and int_field(summary, "accepted") == 0
    assert not [r for r in every_bad_free.records if r.event == "stress passed"]
    assert not [r for r in every_bad_free.records_for("kernel") if r.event == "ready"]


@pytest.mark.parametrize("kind,subsystem,key,reason", BAD_FREES, ids=[b[0] for b in BAD_FREES])
def test_a_bad_free_is_refused_by_name(every_bad_free, kind, subsystem, key, reason):
    records = bad_frees(every_bad_free)[kind]
    assert (records[0].level, records[0].subsystem) == ("WARN", subsystem)
    rejected = [r for r in records if r.subsystem == subsystem and r.event == "free rejected"]
    assert len(rejected) == 1, [str(r) for r in records]
    rejected = rejected[0]
    assert rejected.fields["reason"] == reason and rejected.fields["rule"]
    if kind == "frame-foreign":
        assert int_field(rejected, key) == 0x9000
    if subsystem == "heap":
        assert HEAP_START < int_field(rejected, key) < HEAP_WINDOW_END
    # Nothing else went wrong: no acceptance, and the allocators were left clean for the next kind.
    assert [r for r in records if r.level == "ERROR"] == [rejected]


def test_one_bad_free_ends_the_boot_with_its_refusal(built):
    """A single bad free, as a reader tries it: the refusal is the last word, then the failure code."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.bad-free=heap-overrun", timeout=60))
    error = harness.the_rejection(result)
    assert only(result, "heap", "a bad free on request").fields["kind"] == "heap-overrun"
    assert (error.subsystem, error.event, error.fields["reason"]) == ("heap", "free rejected", "overrun")
    assert not [r for r in result.records_for("kernel") if r.event == "ready"]


def test_the_screen_follows_the_framebuffer_into_its_wc_window(finished):
    """map_framebuffer told the console where the framebuffer lies in the new
    tables: from the CR3 switch on it draws through the write-combining window,
    and QEMU's screendump, decoded cell by cell, shows the log's last lines,
    down to `ready`."""
    switched = only(finished, "paging", "switched")
    moved = only(finished, "screen", "moved")
    assert moved.line_number == switched.line_number + 1
    assert int_field(moved, "cr3") == int_field(switched, "cr3")
    base = int_field(only(finished, "loader", "framebuffer"), "base")
    assert int_field(moved, "va") == 0xFFFF_D000_0000_0000 + base % 4096
    reading = screen_against_log(finished)
    assert len(reading.drawn) > len(reading.rows), "the log is longer than a screen: the console has scrolled"
    assert reading.used >= len(reading.rows) // 2
    assert reading.rows[reading.used - 1].text.startswith("[INFO  kernel] ready chapter=11-heap")
