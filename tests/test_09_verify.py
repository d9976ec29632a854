"""Chapter 09: the kernel walks its own live tables, verifies them, and prints
them as merged ranges; QEMU's view of the same tables is the oracle.

The plain boot, the one the chapter's page quotes, read over the monitor once
the kernel has written its exit code: the kernel's report is compared with
``info mem`` (QEMU merges by contiguous address and rights only, so the
kernel's rows are merged the same way first) and, page by page, with ``info tlb`` (address, frame, page size and
the NX/W/U/PCD/PWT bits). One boot installs each kind of bad entry in turn
(``test.bad-mapping=all``): the audit must name the rule each breaks, and once
each is undone the tables must verify clean again, as they did before. Then
the boot ends with the failure code, as it does in the last boot, where a
single bad entry (``test.bad-mapping=wx``) is the ordinary way it ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import harness
from harness import only
from harness.inspections import inspected_boot
from harness.log import int_field, size_field
from harness.monitor import parse_info_mem, parse_info_tlb
from harness.paging_model import frame_exceptions, ram_runs, read_only_frames
from harness.protections import check_protections

CHAPTER = "09-verify"
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PAGE_BYTES = {"4KiB": 4 * KiB, "2MiB": 2 * MiB, "1GiB": GiB}
WINDOW_BASE = 0xFFFF_8000_0000_0000
MMIO_BASE = 0xFFFF_C000_0000_0000
FB_BASE = 0xFFFF_D000_0000_0000
OWNERS = {"phys-window", "mmio", "framebuffer", "text", "rodata", "data", "stack"}
REGIONS = {"text", "rodata", "data", "stack", "guard-below-image", "guard-boot-stack", "guard-above-image",
           "phys-window", "lapic", "ioapic", "hpet", "framebuffer", "lower-half", "heap", "temporary-window"}


@dataclass(frozen=True)
class Row:
    va: int
    end: int
    pa: int
    page: int
    flags: frozenset[str]
    owner: str


def report_rows(result) -> list[Row]:
    rows = []
    for r in result.records_for("layout"):
        if r.event != "range":
            continue
        rows.append(Row(int_field(r, "va"), int_field(r, "end"), int_field(r, "pa"), PAGE_BYTES[r.fields["page"]],
                        frozenset(r.fields["flags"].split("|")), r.fields["owner"]))
        assert size_field(r, "size") == rows[-1].end - rows[-1].va
    return rows


@pytest.fixture(scope="module")
def finished(built):
    result = harness.boot(inspected_boot(CHAPTER))  # the plain boot, which the chapter's page quotes
    harness.assert_outcome(result, "success")
    return result


@pytest.fixture(scope="module")
def rows(finished):
    return report_rows(finished)


def test_protections_seen_by_qemu(finished):
    check_protections(finished, CHAPTER)


def test_ready_without_warnings(finished):
    harness.assert_ready_without_warnings(finished)


def test_every_region_verified(finished):
    regions = [r for r in finished.records_for("verify") if r.event == "region"]
    assert {r.fields["name"] for r in regions} == REGIONS
    assert all(r.fields["ok"] == "yes" for r in regions), [str(r) for r in regions if r.fields["ok"] != "yes"]
    flags = {r.fields["name"]: r.fields["flags"] for r in regions}
    assert (flags["text"], flags["rodata"], flags["data"], flags["stack"]) == ("P", "P|NX", "P|RW|NX", "P|RW|NX")
    assert flags["lapic"] == flags["ioapic"] == flags["hpet"] == "P|RW|NX|PCD|PWT"  # UC
    assert flags["framebuffer"] == "P|RW|NX|PAT"  # WC: PAT entry 4
    assert flags["guard-boot-stack"] == flags["lower-half"] == "not-present"
    verified = only(finished, "verify", "address space verified")
    assert int_field(verified, "regions") == len(regions) and int_field(verified, "findings") == 0


def test_audit_finds_nothing(finished, rows):
    audit = only(finished, "verify", "audit")
    for key in ("wx", "user", "nonzero-not-present", "malformed", "shared-tables", "unexpected", "frame-wx",
                "frame-types"):
        assert int_field(audit, key) == 0, key
    assert audit.fields["wx-rule"] == "on" and audit.fields["ok"] == "yes"
    report = only(finished, "layout", "report")
    assert int_field(report, "leaves") == int_field(audit, "leaves")
    assert int_field(report, "ranges") == len(rows) and int_field(report, "dropped") == 0
    assert int_field(report, "leaves") == sum((r.end - r.va) // r.page for r in rows)


def test_report_rows_are_merged_and_owned(finished, rows):
    assert rows == sorted(rows, key=lambda r: r.va)
    read_only_image = read_only_frames(ram_runs(finished), frame_exceptions(finished))
    assert [r for r in rows if r.owner == "phys-window" and "RW" not in r.flags], "the image's alias is read-only"
    for a, b in zip(rows, rows[1:]):
        assert a.end <= b.va
        mergeable = (a.end == b.va and a.pa + (a.end - a.va) == b.pa and a.flags == b.flags and a.page == b.page
                     and a.owner == b.owner)
        assert not mergeable, f"{a} and {b} should be one range"
    assert {r.owner for r in rows} <= OWNERS
    for r in rows:
        assert r.va % r.page == 0 and r.pa % r.page == 0 and (r.end - r.va) % r.page == 0
        assert "US" not in r.flags and not ("RW" in r.flags and "NX" not in r.flags), r
        if r.owner == "phys-window":  # read-only where the frames are the image's text and rodata
            read_only = any(s <= r.pa and r.pa + (r.end - r.va) <= e for s, e in read_only_image)
            assert r.pa == r.va - WINDOW_BASE and r.flags == ({"P", "NX"} if read_only else {"P", "RW", "NX"}), r
    assert [r.owner for r in rows if r.va >= 0xFFFF_FFFF_8000_0000] == ["text", "rodata", "data", "stack"]


def test_report_equals_qemus_info_mem(finished, rows):
    # QEMU's info mem merges consecutive pages with equal U/W rights, whatever
    # their frames, sizes or cache bits: merge the kernel's rows the same way.
    merged: list[list] = []
    for r in rows:
        rights = ("u" if "US" in r.flags else "-") + "r" + ("w" if "RW" in r.flags else "-")
        if merged and merged[-1][1] == r.va and merged[-1][2] == rights:
            merged[-1][1] = r.end
        else:
            merged.append([r.va, r.end, rights])
    qemu = [[m.start, m.end, m.permissions] for m in parse_info_mem(finished.monitor["info mem"])]
    assert merged == qemu


def test_report_equals_qemus_info_tlb_page_by_page(finished, rows):
    expected = {}
    for r in rows:
        for va in range(r.va, r.end, r.page):
            expected[va] = (r.pa + (va - r.va), r.page > 4 * KiB, "NX" in r.flags, "RW" in r.flags, "US" in r.flags,
                            "PCD" in r.flags, "PWT" in r.flags)
    qemu = {e.va & (1 << 64) - 1: (e.pa, e.huge, e.no_execute, e.writable, e.user, e.cache_disabled, e.write_through)
            for e in parse_info_tlb(finished.monitor["info tlb"])}
    assert qemu.keys() == expected.keys(), sorted(set(qemu) ^ set(expected))[:8]
    differ = [hex(va) for va in expected if expected[va] != qemu[va]]
    assert not differ, differ[:8]


def test_devices_and_framebuffer_in_the_report(finished, rows):
    mmio = [r for r in rows if r.owner == "mmio"]
    assert [(r.va, r.pa) for r in mmio] == [(MMIO_BASE, 0xFEE0_0000), (MMIO_BASE + 0x1000, 0xFEC0_0000),
                                           (MMIO_BASE + 0x2000, 0xFED0_0000)]
    fb = [r for r in rows if r.owner == "framebuffer"]
    loader = only(finished, "loader", "framebuffer")
    assert fb[0].va == FB_BASE and fb[0].pa == int_field(loader, "base")
    assert all(r.flags == {"P", "RW", "NX", "PAT"} for r in fb)
    # ACPI tables: OVMF's are in ACPI reclaim memory, read where RAM is mapped,
    # so chapter 06's window maps none and the verification, which takes the
    # phase's kept frames instead of reading the tables again, expects none.
    assert int_field(only(finished, "acpi", "tables"), "reserved-frames") == 0
    assert not [r for r in rows if r.owner == "acpi-tables"]
    assert not [r for r in finished.records_for("verify") if r.event == "region" and r.fields["name"] == "acpi-table"]


HEAP_BASE = 0xFFFF_E000_0000_0000

# (test.bad-mapping value, the audit counter it raises, the region named, the rule named)
BAD_MAPPINGS = [
    ("wx", "wx", "heap", "no page may be both writable and executable"),
    ("user", "user", "heap", "no entry may be user-accessible (U/S)"),
    ("nonzero-entry", "nonzero-not-present", "guard-above-image", "every non-present entry must be zero"),
    ("shared-table", "shared-tables", "heap", "no table may be reachable twice"),
]


# Frames each kind takes, all given back by its undo: wx and user map a spare
# frame at the heap's base, under three new tables (PDPT, PD, PT).
FRAMES_TAKEN = {"wx": 4, "user": 4, "nonzero-entry": 0, "shared-table": 0}
AUDIT_COUNTERS = ("wx", "user", "nonzero-not-present", "malformed", "shared-tables", "unexpected")


def check_caught(records, kind, counter, region, rule):
    """What one verification logs about one bad mapping: `records` run from its WARN line to the verdict."""
    assert only(records, "verify", "installing a bad mapping on request").fields["kind"] == kind
    audit = only(records, "verify", "audit")
    assert int_field(audit, counter) == 1 and audit.fields["ok"] == "no"
    named = [r for r in records if r.subsystem == "verify" and r.event == "audit rejected" and r.fields["rule"] == rule]
    assert len(named) == 1, [str(r) for r in records if r.level == "ERROR"]
    regions = {r.fields["name"]: r for r in records if r.subsystem == "verify" and r.event == "region"}
    assert named[0].fields["region"] == region
    assert int_field(named[0], "va") == (HEAP_BASE if region == "heap" else int_field(regions[region], "va"))
    rejected = only(records, "verify", "address space rejected")
    assert int_field(rejected, "findings") == len([r for r in records if r.level == "ERROR"]) - 1


@pytest.fixture(scope="module")
def every_bad_mapping(built):
    """One boot with test.bad-mapping=all: each bad mapping verified, undone, and verified clean again."""
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="test.bad-mapping=all", timeout=60))
    harness.assert_outcome(result, "failure")
    return result


def sweep(result) -> tuple[list, dict[str, tuple[list, list]]]:
    """The records before the first bad mapping, and for each kind: (its WARN line up to its undo line,
    the records after the undo line up to the next kind's WARN line)."""
    before, by_kind, current = [], {}, None
    for r in result.records:
        if r.subsystem == "verify" and r.event == "installing a bad mapping on request":
            current = by_kind.setdefault(r.fields["kind"], ([], []))[0]
        elif r.subsystem == "verify" and r.event == "bad mapping undone":
            current = by_kind[r.fields["kind"]][1]
        if current is None:
            before.append(r)
        else:
            current.append(r)
    return before, by_kind


def test_every_bad_mapping_is_tried_then_the_boot_fails(every_bad_mapping):
    before, by_kind = sweep(every_bad_mapping)
    assert list(by_kind) == [b[0] for b in BAD_MAPPINGS]
    # The sweep starts from tables that verify clean.
    assert only(before, "verify", "address space verified")
    assert not [r for r in before if r.level in ("WARN", "ERROR", "PANIC")]
    summary = [r for r in every_bad_mapping.records_for("verify") if r.event == "every bad mapping tried"]
    assert len(summary) == 1 and summary[0] is every_bad_mapping.records[-1]
    assert int_field(summary[0], "kinds") == len(BAD_MAPPINGS) and int_field(summary[0], "accepted") == 0
    assert not [r for r in every_bad_mapping.records_for("kernel") if r.event == "ready"]


@pytest.mark.parametrize("kind,counter,region,rule", BAD_MAPPINGS, ids=[b[0] for b in BAD_MAPPINGS])
def test_a_bad_mapping_is_caught_by_name(every_bad_mapping, kind, counter, region, rule):
    caught, _ = sweep(every_bad_mapping)[1][kind]
    check_caught(caught, kind, counter, region, rule)


@pytest.mark.parametrize("kind", [b[0] for b in BAD_MAPPINGS])
def test_each_bad_mapping_is_undone_exactly(every_bad_mapping, kind):
    before, by_kind = sweep(every_bad_mapping)
    undone = by_kind[kind][1]
    # Every frame it took is back, and the tables verify clean with the same
    # leaves and tables as before any bad mapping.
    line = undone[0]
    assert (line.event, line.fields["kind"]) == ("bad mapping undone", kind)
    assert int_field(line, "frames-returned") == FRAMES_TAKEN[kind]
    start = only(before, "verify", "verifying before any bad mapping")
    assert int_field(line, "frames-in-use") == int_field(start, "frames-in-use")
    assert not [r for r in undone if r.level in ("WARN", "ERROR", "PANIC")], [str(r) for r in undone]
    assert only(undone, "verify", "address space verified")
    audit, clean = only(undone, "verify", "audit"), only(before, "verify", "audit")
    assert audit.fields["ok"] == "yes" and all(int_field(audit, key) == 0 for key in AUDIT_COUNTERS)
    assert (int_field(audit, "leaves"), int_field(audit, "tables")) == (int_field(clean, "leaves"),
                                                                        int_field(clean, "tables"))


def test_one_bad_mapping_ends_the_boot_with_its_rejection(built):
    """A single bad mapping, as a reader tries it: caught, the report printed, then the failure code."""
    kind, counter, region, rule = BAD_MAPPINGS[0]
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline=f"test.bad-mapping={kind}", timeout=60))
    harness.assert_outcome(result, "failure")
    check_caught(result.records, kind, counter, region, rule)
    # The report follows the rejection (it shows what is wrong), and nothing else does.
    rejected = only(result, "verify", "address space rejected")
    after = result.records[result.records.index(rejected) + 1:]
    assert after and all(r.subsystem == "layout" for r in after), [str(r) for r in after if r.subsystem != "layout"]
    assert not [r for r in result.records_for("kernel") if r.event == "ready"]
