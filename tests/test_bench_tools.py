"""bench/bench_tools.py on canned inputs: the parsing and the arithmetic
behind `make bench`, never a timing (nothing here boots or builds)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_tools as bt  # noqa: E402
from harness.log import parse_records  # noqa: E402

# A chapter-05-shaped log: 256 MiB of RAM in two runs, identity map (page 0
# left out), kernel image, phys window. Worked by hand:
#   identity  0x1000-0xa0000 and 0x100000-0x200000 in one PT, 127 2 MiB pages:
#             PDPT + PD + PT = 3
#   window    the same at 0xffff800000000000 (page 0 included): 3
#   kernel    four sections inside one 2 MiB at -2 GiB: PDPT + PD + PT = 3
#   PML4      1                                        -> minimum 10
# 4 KiB-only: 256 MiB = 128 PTs + PD + PDPT = 130, twice, + 3 + 1 = 264.
MEMMAP = """\
[INFO  memmap] range kind=usable start=0x0 end=0xa0000 size=640KiB class=usable
[INFO  memmap] range kind=usable start=0x100000 end=0x806000 size=7192KiB class=usable
[INFO  memmap] range kind=acpi-nvs start=0x806000 end=0x10000000 size=254MiB class=firmware
[INFO  memmap] range kind=device start=0xb0000000 end=0xc0000000 size=256MiB class=device
"""
IDENTITY = "[INFO  paging] phase identity_map_low_memory ranges=4 runs=2 bytes=1KiB pages-4k=415 tables=3 flags=P|RW|NX\n"
KERNEL = """\
[INFO  paging] map section=text va=0xffffffff80001000 pa=0xddef000 size=28KiB flags=P
[INFO  paging] map section=rodata va=0xffffffff80008000 pa=0xddf6000 size=8KiB flags=P|NX
[INFO  paging] map section=data va=0xffffffff8000a000 pa=0xddf8000 size=16KiB flags=P|RW|NX
[INFO  paging] map section=stack va=0xffffffff8000f000 pa=0xddfd000 size=64KiB flags=P|RW|NX
[INFO  paging] phase map_kernel_image sections=4 bytes=116KiB pages-4k=29 tables=3 guards=3
"""
WINDOW = ("[INFO  paging] phase map_phys_offset_regions ranges=4 runs=2 base=0xffff800000000000 "
          "bytes=1KiB tables=3 flags=P|RW|NX\n")
CHAPTER_05 = MEMMAP + IDENTITY + KERNEL + WINDOW + "[INFO  frames] page tables frames=10 handed-out=16\n"
CHAPTER_08 = (MEMMAP + IDENTITY + KERNEL + WINDOW
              + "[INFO  paging] identity map removed pml4-entries=1 tables-released=3 returned-to-reserve=3\n")


def records(text: str):
    return parse_records(text)


def test_footprint_of_a_chapter_05_layout():
    fp = bt.footprint(records(CHAPTER_05))
    assert (fp.measured, fp.minimum, fp.only_2m, fp.only_4k) == (10, 10, 10, 264)
    assert fp.how == "frames=" and fp.unknown_phases == []


def test_removed_identity_map_is_not_in_the_final_footprint():
    fp = bt.footprint(records(CHAPTER_08))
    # No frames= line: 1 + 3 + 3 + 3 from the phases, minus the 3 released.
    assert fp.measured == 7 and "released 3" in fp.how
    assert fp.minimum == 7
    assert fp.only_4k == 1 + 130 + 3


def test_a_wasteful_kernel_is_reported_above_the_minimum():
    fp = bt.footprint(records(CHAPTER_05.replace("frames=10", "frames=12")))
    assert fp.measured == 12 and fp.minimum == 10


def test_one_gib_pages_when_the_cpu_has_them():
    # 2 GiB: enough for two 1 GiB leaves, and the model's 4 KiB-only count
    # enumerates every page (6 GiB took 3 s of the test run).
    big = ("[INFO  memmap] range kind=usable start=0x100000000 end=0x180000000 size=2GiB class=usable\n"
           + WINDOW)
    with_1g = bt.footprint(records(big), one_gib=True)
    assert with_1g.minimum == 1 + 1           # PML4 + PDPT of 1 GiB leaves
    assert with_1g.only_2m == 1 + 1 + 2       # + a PD per GiB
    assert bt.footprint(records(big), one_gib=False).minimum == 1 + 1 + 2
    cpu_line = "[INFO  paging] cpu nx=yes page1gb=no bootstrap-cr3=0x1000\n"
    assert bt.footprint(records(cpu_line + big)).minimum == 1 + 1 + 2


def test_mmio_framebuffer_and_temporary_window():
    text = (KERNEL
            + "[INFO  mmio] map lapic pa=0xfee00000 va=0xffffc00000000000 size=4KiB flags=P|RW|NX type=UC\n"
            + "[INFO  mmio] map hpet pa=0xfed00000 va=0xffffc00000002000 size=4KiB flags=P|RW|NX type=UC\n"
            + "[INFO  paging] phase map_mmio_devices devices=2 bytes=8KiB tables=3\n"
            + "[INFO  mmio] map framebuffer pa=0xc0000000 va=0xffffd00000000000 size=4000KiB type=WC\n"
            + "[INFO  paging] phase map_framebuffer bytes=4000KiB tables=3 type=WC\n"
            + "[INFO  paging] phase create_temporary_window va=0xfffffffe00000000 pt=0x104000 tables=2\n")
    fp = bt.footprint(records(text))
    # kernel 3, MMIO 3, framebuffer 3 (one 2 MiB page, then a PT), window PD+PT 2 (shares the kernel's PDPT).
    assert fp.minimum == 1 + 3 + 3 + 3 + 2
    assert fp.measured == 1 + 3 + 3 + 3 + 2   # from the phases' tables=
    assert fp.only_2m == fp.minimum
    assert fp.only_4k == 1 + 3 + 3 + (1 + 1 + 2) + 2   # framebuffer: 4000 KiB needs two PTs


def test_kernel_stacks_and_heap():
    text = (KERNEL
            + "[INFO  paging] stack name=df-ist ist=1 vector=8 va=0xfffff00000001000 size=16KiB\n"
            + "[INFO  paging] stack name=pf-ist ist=2 vector=14 va=0xfffff00000006000 size=16KiB\n"
            + "[INFO  paging] phase map_kernel_stacks stacks=2 base=0xfffff00000000000 bytes=32KiB tables=3 guards=2\n"
            + "[INFO  paging] phase create_heap va=0xffffe00000001000 guard=0xffffe00000000000 bytes=64KiB tables=3\n")
    fp = bt.footprint(records(text))
    # kernel 3; stacks (PML4 slot 480) PDPT + PD + PT = 3; heap (slot 448) 3; PML4 1.
    assert fp.unknown_phases == []
    assert fp.minimum == fp.measured == fp.only_2m == fp.only_4k == 1 + 3 + 3 + 3
    # A stack spread over two 2 MiB ranges needs one more page table, and the model sees it.
    spread = text.replace("va=0xfffff00000006000", "va=0xfffff00000200000")
    assert bt.footprint(records(spread)).minimum == 1 + 3 + 4 + 3


def test_a_shared_kernel_half_adds_a_table_per_empty_upper_slot():
    # Chapter 12: every upper PML4 slot gets a PDPT; the kernel image uses slot 511 already.
    text = KERNEL + "[INFO  paging] phase share_kernel_half slots=256 present-before=1 tables=255 frames-from=bitmap\n"
    fp = bt.footprint(records(text))
    assert fp.unknown_phases == []
    assert fp.minimum == fp.measured == 1 + 3 + 255
    assert fp.only_4k == fp.minimum


def test_an_unknown_phase_makes_the_minimum_unknown():
    fp = bt.footprint(records(CHAPTER_05 + "[INFO  paging] phase map_heap bytes=4KiB tables=1\n"))
    assert fp.minimum is None and fp.unknown_phases == ["map_heap"]


def test_callgrind_totals_and_summary():
    assert bt.callgrind_total("version: 1\nevents: Ir\nsummary: 5\ntotals: 1226\n") == 1226
    assert bt.callgrind_total("events: Ir\nsummary: 37251718\n") == 37251718
    with pytest.raises(ValueError):
        bt.callgrind_total("events: Ir\n")


def test_parse_kv():
    assert bt.parse_kv("case=window-1g mapper=naive bytes=1073741824 pages-4k=262144") == {
        "case": "window-1g", "mapper": "naive", "bytes": "1073741824", "pages-4k": "262144"}


def test_statistics_and_targets():
    assert bt.median([5.0, 1.0, 3.0, 100.0, 2.0]) == 3.0
    assert bt.ratio(4.2, 4.0) == pytest.approx(1.05)
    assert bt.ratio(1, 0) is None and bt.ratio(None, 3) is None
    assert bt.met_at_most(1.05, 1.05) == "yes"
    assert bt.met_at_most(1.051, 1.05) == "no"
    assert bt.met_at_most(None, 1.05) == "n/a"
    assert bt.Row("s", "n", 6, 3).ratio == 2


def test_ratio_interval_brackets_the_ratio_of_medians():
    floor = [3.0, 3.2, 3.4, 3.1, 3.3, 2.9, 3.5, 3.2, 3.0, 3.4]
    slower = [t * 1.1 for t in floor]
    low, high = bt.ratio_interval(slower, floor)
    assert low <= bt.ratio(bt.median(slower), bt.median(floor)) <= high
    assert low > 0.95 and high < 1.25 and low < high  # it is the spread of the runs, not of anything else
    assert bt.ratio_interval(slower, floor) == (low, high)  # the same runs, the same interval
    # More runs of the same spread narrow it.
    wide = high - low
    low, high = bt.ratio_interval(slower * 4, floor * 4)
    assert high - low < wide
    # No spread, no interval.
    assert bt.ratio_interval([3.3] * 5, [3.0] * 5) == pytest.approx((1.1, 1.1))
    with pytest.raises(ValueError):
        bt.ratio_interval([], floor)


def test_split_ratio_takes_the_firmware_from_every_boot():
    # Each boot: the firmware up to the split line, in one of two steps, then
    # its own part: 0.10 s for the chapter, 0.01 s for the floor.
    chapter_firmware, floor_firmware = [3.0, 3.0, 3.3], [3.3, 3.3, 3.0]
    own, floor_own = [0.10, 0.11, 0.09], [0.01, 0.01, 0.02]
    shared = chapter_firmware + floor_firmware
    ratio = bt.split_ratio(shared, own, floor_own)
    assert ratio == pytest.approx((3.15 + 0.10) / (3.15 + 0.01))
    assert bt.split_boot(shared, own, floor_own) == pytest.approx((3.15 + 0.10, 3.15 + 0.01))
    # The ratio of whole-boot medians says 0.94: it follows the steps the
    # chapter's few boots happened to land on, not what the chapter costs.
    chapter = [f + o for f, o in zip(chapter_firmware, own)]
    floor = [f + o for f, o in zip(floor_firmware, floor_own)]
    assert bt.ratio(bt.median(chapter), bt.median(floor)) < 0.95 < ratio
    low, high = bt.split_ratio_interval(shared, own, floor_own)
    whole_low, whole_high = bt.ratio_interval(chapter, floor)
    assert low <= ratio <= high and high - low < 0.02 and high - low < (whole_high - whole_low) / 5
    assert bt.split_ratio([3.0], [0.0], [0.0]) == 1.0
    with pytest.raises(ValueError):
        bt.split_ratio_interval([], own, floor_own)


def test_table_csv_and_json(tmp_path):
    rows = [bt.Row("boot", "05-paging: QEMU start to ready", 4.4, 4.0, unit="s", target="<= 1.05x floor", met="no"),
            bt.Row("loop", "make test wall time", None, unit="s", note="skipped")]
    table = bt.format_table(rows).splitlines()
    assert table[0].split()[:3] == ["section", "name", "measured"]
    assert "1.100x" in table[2] and table[2].split()[-1] == "no"
    bt.write_csv(rows, tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    assert lines[0]["ratio"] == str(4.4 / 4.0) and lines[1]["measured"] == ""
    bt.write_json(rows, tmp_path / "r.json", {"commit": "abc"})
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["meta"]["commit"] == "abc"
    assert [r["met"] for r in document["rows"]] == ["no", "n/a"]
    assert set(document["rows"][0]) == set(bt.COLUMNS)


SPARSE = """\
[INFO  vm] mmap pid=6 name=sparse start=0x1000000000 length=0x40000000 prot=rw- fixed=no
[INFO  vm] munmap pid=6 name=sparse start=0x1000000000 length=0x40000000 pages=16 tables=17 borrowed=0 invlpg=16
"""


def test_sparse_cost_counts_what_munmap_gave_back_against_the_whole_gigabyte():
    cost = bt.sparse_cost(records(SPARSE))
    assert (cost.reserved, cost.touched, cost.lazy_frames) == (1 << 30, 16, 33)
    assert cost.eager_frames == 262_144 + 512 + 1
    assert bt.sparse_cost(records(SPARSE.splitlines()[0] + "\n")) is None


# Chapter 14's fork: bench/fork_cost's lines, and fork-cow's family in a kernel log.
FORK_LINES = {
    "cow": "case=fork pages=256 mode=cow frames=4 tables=4 copied=0 checked=256 ns=41000",
    "cow-write-all": "case=fork pages=256 mode=cow-write-all frames=260 tables=4 copied=256 checked=256 ns=150000",
    "eager": "case=fork pages=256 mode=eager frames=260 tables=4 copied=256 checked=256 ns=160000",
}


def test_fork_result_reads_numbers_and_checks_frames_are_tables_plus_copies():
    results = {mode: bt.fork_result(line) for mode, line in FORK_LINES.items()}
    assert results["cow"]["frames"] == 4 and results["eager"]["frames"] == 260
    assert bt.ratio(results["cow"]["frames"], results["eager"]["frames"]) == pytest.approx(4 / 260)
    assert results["eager"]["mode"] == "eager" and results["eager"]["ns"] == 160000


@pytest.mark.parametrize("line", [
    "case=fork pages=256 mode=cow frames=5 tables=4 copied=0 checked=256 ns=1",       # a frame unaccounted for
    "case=fork pages=256 mode=cow frames=5 tables=4 copied=1 checked=256 ns=1",       # cow copied at the fork
    "case=fork pages=256 mode=eager frames=259 tables=4 copied=255 checked=256 ns=1",  # a page not copied
    "case=fork pages=256 mode=eager frames=260 tables=4 copied=256 checked=255 ns=1",  # a page the child missed
    "case=fork pages=256 mode=lazy frames=4 tables=4 copied=0 checked=256 ns=1",      # no such mode
    "case=window-1g mapper=builder bytes=1",                                           # another program's line
])
def test_fork_result_refuses_a_line_whose_numbers_do_not_add_up(line):
    with pytest.raises(ValueError):
        bt.fork_result(line)


FORK_COW = """\
[INFO  cow] fork pid=1 name=children child=2 cow=2 shared-read-only=0 borrowed=1 child-tables=9 invlpg=2 child-pml4=0x26e000 references=4
[INFO  cow] fork pid=1 name=children child=3 cow=2 shared-read-only=0 borrowed=1 child-tables=9 invlpg=2 child-pml4=0x277000 references=6
[INFO  cow] fork pid=1 name=children child=4 cow=2 shared-read-only=0 borrowed=1 child-tables=9 invlpg=2 child-pml4=0x280000 references=8
[INFO  cow] family done name=children processes=4 copied=4 taken-over=0 references=0 counted-frames=0 used-before=356 used-after=356 balanced=yes
[INFO  cow] fork pid=5 name=fork-cow child=6 cow=17 shared-read-only=1 borrowed=1 child-tables=9 invlpg=17 child-pml4=0x28b000 references=36
[INFO  cow] copied pid=6 va=0x1000000000 from=0x288000 to=0x2a6000
[INFO  cow] family done name=fork-cow processes=2 copied=7 taken-over=2 references=0 counted-frames=0 used-before=356 used-after=356 balanced=yes
"""


def test_fork_family_cost_counts_the_tables_and_the_copies_against_every_owned_page():
    cost = bt.fork_family_cost(records(FORK_COW))
    assert (cost.forks, cost.owned, cost.tables, cost.copied, cost.taken_over) == (1, 18, 9, 7, 2)
    assert (cost.lazy_frames, cost.eager_frames) == (16, 27)
    children = bt.fork_family_cost(records(FORK_COW), program="children")
    assert (children.forks, children.lazy_frames, children.eager_frames) == (3, 27 + 4, 27 + 6)
    assert bt.fork_family_cost(records(FORK_COW.splitlines()[4] + "\n")) is None  # no family line: no figure


FAULT_LINES = {
    "lazy": "case=fault pages=16 mode=lazy frames=34 tables=18 ns=3996",
    "eager": "case=fault pages=16384 mode=eager frames=16418 tables=34 ns=2400000",
}


def test_fault_result_reads_numbers_and_checks_frames_are_pages_plus_tables():
    lazy, eager = (bt.fault_result(FAULT_LINES[mode]) for mode in ("lazy", "eager"))
    assert (lazy["pages"], lazy["frames"], lazy["tables"]) == (16, 34, 18)
    assert eager["tables"] == 34 and eager["mode"] == "eager"


@pytest.mark.parametrize("line", [
    "case=fault pages=16 mode=lazy frames=33 tables=18 ns=1",       # a frame missing
    "case=fault pages=16384 mode=eager frames=16385 tables=1 ns=1",  # too few tables for 16384 pages
    "case=fork pages=16 mode=lazy frames=34 tables=18 ns=1",         # not a fault line
    "case=fault pages=16 mode=sideways frames=34 tables=18 ns=1",    # no such mode
    "case=fault pages=x mode=lazy frames=34 tables=18 ns=1",         # not a number
])
def test_fault_result_refuses_a_line_whose_numbers_do_not_add_up(line):
    with pytest.raises(ValueError):
        bt.fault_result(line)
def test_shootdown_cost_reads_the_batching_line():
    line = "[INFO  tlb] batching pages=12 cpus=4 ipis-batched=3 ipis-per-page=36\n"
    cost = bt.shootdown_cost(records(line))
    assert (cost.pages, cost.cpus, cost.ipis_batched, cost.ipis_per_page) == (12, 4, 3, 36)
    assert bt.shootdown_cost(records("[INFO  kernel] ready chapter=15-tlb-shootdown\n")) is None
