"""make bench: everything measured side by side in one run, reported as ratios.

    /usr/bin/python3 bench/run.py [--runs N] [--full] [--only SECTION ...]

Sections (``--only`` picks some; all by default):

``mapping``   instructions (callgrind) for PageTableBuilder to map a direct
              window of 1, 64 and 512 GiB and a fragmented 16 GiB memory map,
              against the naive 4 KiB-per-page mapper in bench/mapping_cost.cpp
``boot``      wall time from QEMU's start to each chapter's ``ready`` line,
              against the firmware floor (bench/floor/floor.cpp) booted the
              same way; N interleaved rounds, each in its own order (the floor
              three times a round), medians; and the same ratio with the
              firmware's common part (up to its "BdsDxe: loading" line) taken
              from all boots at once
``footprint`` page-table frames of each chapter's final address space (from
              the boot logs of ``boot``) against the minimum for its layout, and
              the same layout under 2 MiB-only and 4 KiB-only policies
``fork``      chapter 14's fork of a process with N touched pages, copy-on-write
              against an eager copy of every page (bench/fork_cost.cpp, on the
              host over a fake memory): frames taken, instructions (callgrind)
              and wall time (median of interleaved native runs), and the worst
              case, the child writing every page; and the same frames ratio
              from the kernel's own log of chapter 14's ``fork-cow``
``shootdown`` IPIs per unmapped page in chapter 15's 4-CPU boot, one batch
              for 12 pages against one batch per page (its ``batching`` line)
``loop``      the reader's loop in a fresh clone of HEAD: clean build,
              incremental build after touching one common/mm file, and with
              ``--full`` the wall time of ``make test``, then of the same run again

One table is printed; the same rows go to build/bench/results.csv and
results.json, the boot logs and callgrind files next to them. Nothing here
asserts on time: the rows say whether a target was met.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_ROOT / "tests"))

import bench_tools as bt  # noqa: E402
from harness import paths  # noqa: E402
from harness.firmware_vars import seasoned_vars  # noqa: E402
from harness.paths import environment_outside_make  # noqa: E402
from harness.log import parse_records  # noqa: E402
from harness import BootConfig, boot, prepare_run_dir, qemu_command  # noqa: E402

OUT = REPO_ROOT / "build" / "bench"
FLOOR_EFI = OUT / "floor" / "BOOTX64.EFI"
MAPPING_COST = OUT / "mapping_cost"
FORK_COST = OUT / "fork_cost"
FAULT_COST = OUT / "fault_cost"

#: The line each boot is timed to: the chapter kernel's last word, the floor's only line.
KERNEL_READY = "[INFO  kernel] ready"
FLOOR_READY = "[INFO  floor] ready"
#: Where a chapter's boot is, for the per-stage breakdown in the notes.
STAGES = ("[INFO  loader] start", "[INFO  loader] jump to kernel")
#: OVMF's line just before it reads the boot application from the disk.
#: Everything before it runs the same in every boot (same firmware, variable
#: store and command line; no file of ours read yet), so it is where a boot
#: splits into the firmware part all boots share and the subject's own part.
FIRMWARE_SPLIT = "BdsDxe: loading"

#: Targets from the issue.
BOOT_RATIO_TARGET = 1.05
CLEAN_BUILD_TARGET = 60.0
INCREMENTAL_TARGET = 5.0
MAKE_TEST_TARGET = 120.0

#: The common/mm file touched for the incremental build: every chapter from 04 on uses it.
TOUCHED_FILE = "common/mm/page_table_builder.cpp"


def log(message: str) -> None:
    print(f"  BENCH   {message}", flush=True)


# ---------------------------------------------------------------------------
# Mapping cost
# ---------------------------------------------------------------------------

# (case, mapper) pairs run under callgrind. The naive mapper at 512 GiB would
# need 1 GiB of fake RAM and minutes under callgrind, so its figure is the
# 64 GiB one scaled linearly (the naive walk costs the same for every page).
MAPPING_RUNS = [
    ("window-1g", "builder"), ("window-1g", "naive"), ("window-1g", "builder-4k"),
    ("window-64g", "builder"), ("window-64g", "naive"),
    ("window-512g", "builder"),
    ("window-64g-2m", "builder"), ("window-512g-2m", "builder"),
    ("fragmented", "builder"), ("fragmented", "naive"),
]


def callgrind(case: str, mapper: str) -> dict:
    out_file = OUT / "callgrind" / f"{case}.{mapper}.out"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}",
         str(MAPPING_COST), case, mapper],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mapping_cost {case} {mapper} failed:\n{done.stdout}{done.stderr}")
    result = bt.parse_kv(done.stdout.strip().splitlines()[-1])
    result["instructions"] = bt.callgrind_total(out_file.read_text())
    return result


def bench_mapping() -> list[bt.Row]:
    log(f"callgrind: {len(MAPPING_RUNS)} runs of {MAPPING_COST.relative_to(REPO_ROOT)}")
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        results = dict(zip(MAPPING_RUNS, pool.map(lambda run: callgrind(*run), MAPPING_RUNS)))

    def instructions(case, mapper):
        return results[(case, mapper)]["instructions"]

    def gib(case):
        return int(results[(case, "builder")]["bytes"]) / bt.GiB

    def pages(result):
        return f"pages 4k/2m/1g={result['pages-4k']}/{result['pages-2m']}/{result['pages-1g']} tables={result['tables']}"

    naive_per_gib_64 = instructions("window-64g", "naive") / gib("window-64g")
    rows = []
    cases = [
        ("window 1 GiB", "window-1g", instructions("window-1g", "naive"), ""),
        ("window 64 GiB", "window-64g", instructions("window-64g", "naive"), ""),
        ("window 512 GiB", "window-512g", round(naive_per_gib_64 * 512),
         "reference extrapolated: naive 64 GiB per GiB x 512 (not run: 1 GiB of fake RAM)"),
        ("window 64 GiB, no 1 GiB pages", "window-64g-2m", instructions("window-64g", "naive"), ""),
        ("window 512 GiB, no 1 GiB pages", "window-512g-2m", round(naive_per_gib_64 * 512),
         "reference extrapolated from naive 64 GiB"),
        (f"fragmented map {gib('fragmented'):.1f} GiB, {results[('fragmented', 'builder')]['runs']} runs",
         "fragmented", instructions("fragmented", "naive"), ""),
    ]
    for name, case, reference, extra in cases:
        measured = instructions(case, "builder")
        per_gib = measured / gib(case)
        note = f"builder {per_gib:,.0f} instr/GiB, naive {reference / gib(case):,.0f} instr/GiB; " + pages(
            results[(case, "builder")])
        rows.append(bt.Row("mapping", f"builder vs naive: {name}", measured, reference, unit="instr",
                           note=note + (f"; {extra}" if extra else "")))
    capped = instructions("window-1g", "builder-4k")
    rows.append(bt.Row(
        "mapping", "builder capped at 4 KiB vs naive: window 1 GiB", capped, instructions("window-1g", "naive"),
        unit="instr",
        note="same pages as the naive mapper: the cost of the builder's check pass and page-size choice alone"))
    return rows


# ---------------------------------------------------------------------------
# Boot overhead (and the logs the footprint reads)
# ---------------------------------------------------------------------------

def timed_boot(config: BootConfig, marker: str, timeout: float = 180.0,
               stages: tuple[str, ...] = ()) -> tuple[float | None, str, str, dict[str, float]]:
    """Boot with the harness's run directory and QEMU command line; return the
    seconds from starting QEMU to the first serial line containing ``marker``
    (``None`` if it never came), QEMU's exit status as text, the log, and the
    seconds at which each of ``stages`` first appeared (those that did)."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{config.chapter}-"))
    try:
        files = prepare_run_dir(config, run_dir, seasoned_vars(config.machine, config.chapter, config.disk_bus))  # as harness.boot() does
        command = qemu_command(config, run_dir)
        with open(files.stderr, "wb") as qemu_output:
            start = time.monotonic()
            proc = subprocess.Popen(command, cwd=run_dir, stdin=subprocess.DEVNULL,
                                    stdout=qemu_output, stderr=qemu_output)
            seen, text, handle = None, b"", None
            seen_stages: dict[str, float] = {}
            try:
                while True:
                    now = time.monotonic()
                    if handle is None and files.serial.exists():
                        handle = open(files.serial, "rb")
                    if handle is not None:
                        text += handle.read()
                        for stage in stages:
                            if stage not in seen_stages and stage.encode() in text:
                                seen_stages[stage] = now - start
                        if seen is None and marker.encode() in text:
                            seen = now - start
                    if proc.poll() is not None or now - start > timeout:
                        break
                    time.sleep(0.002 if seen is None else 0.02)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                if handle is not None:
                    text += handle.read()
                    handle.close()
        return seen, str(proc.returncode), text.decode("utf-8", "replace"), seen_stages
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


#: Floor boots per round. Every chapter's ratio divides by the one floor
#: median, so its error is shared by all of them: booted about sqrt(chapters)
#: times as often as each chapter, it stops being the larger part.
FLOOR_BOOTS_PER_ROUND = 3


def bench_boot(chapters: list[str], runs: int) -> tuple[list[bt.Row], dict[str, str]]:
    floor_image_chapter = chapters[0]
    floor_efi = FLOOR_EFI.read_bytes()
    subjects = ["floor"] + chapters
    round_boots = ["floor"] * FLOOR_BOOTS_PER_ROUND + chapters
    times: dict[str, list[float]] = {s: [] for s in subjects}
    failures: dict[str, list[str]] = {s: [] for s in subjects}
    stage_times: dict[str, list[list[float]]] = {s: [] for s in subjects}
    shared: list[float] = []  # every boot's seconds up to FIRMWARE_SPLIT
    own: dict[str, list[float]] = {s: [] for s in subjects}  # and from there to its last line
    logs: dict[str, str] = {}
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    log(f"boot: {runs} interleaved rounds of {len(round_boots)} boots "
        f"(the floor {FLOOR_BOOTS_PER_ROUND} times, {len(chapters)} chapters once)")
    for round_number in range(runs):
        # A new order every round (the same in every bench run): no subject
        # always follows the same boot or sits at the same point of a round.
        order = random.Random(round_number).sample(round_boots, len(round_boots))
        for subject in order:
            if subject == "floor":
                # The first chapter's image with the floor application as BOOTX64.EFI:
                # same disk, same firmware, same QEMU command line.
                config = BootConfig(chapter=floor_image_chapter, esp_files={"EFI/BOOT/BOOTX64.EFI": floor_efi})
                marker = FLOOR_READY
            else:
                config, marker = BootConfig(chapter=subject), KERNEL_READY
            seconds, status, text, seen = timed_boot(config, marker, stages=(FIRMWARE_SPLIT, *STAGES))
            if seconds is None:
                failures[subject].append(f"round {round_number}: no ready line, qemu status {status}")
            else:
                times[subject].append(seconds)
                if subject != "floor" and all(stage in seen for stage in STAGES):
                    stage_times[subject].append([seen[stage] for stage in STAGES] + [seconds])
                if FIRMWARE_SPLIT in seen:
                    shared.append(seen[FIRMWARE_SPLIT])
                    own[subject].append(seconds - seen[FIRMWARE_SPLIT])
            if subject not in logs:
                logs[subject] = text
                (OUT / "logs" / f"{subject}.log").write_text(text, encoding="utf-8")
        log(f"boot: round {round_number + 1}/{runs} done")

    def runs_note(subject: str) -> str:
        values = times[subject]
        return (f"median of {len(values)} (" + " ".join(f"{t:.2f}" for t in values) + ")"
                + (f"; failed: {failures[subject]}" if failures[subject] else ""))

    rows = []
    floor = bt.median(times["floor"]) if times["floor"] else None
    rows.append(bt.Row("boot", "firmware floor: QEMU start to the app's line", floor, unit="s",
                       note=runs_note("floor")))
    for chapter in chapters:
        value = bt.median(times[chapter]) if times[chapter] else None
        note = runs_note(chapter)
        if stage_times[chapter]:
            # Medians per stage: firmware up to the loader's first line, the
            # loader up to its jump, the kernel up to ready.
            loader_start, jump, ready = (bt.median(run[i] for run in stage_times[chapter]) for i in range(3))
            note += (f"; stages: firmware->loader {loader_start:.2f} s, loader {jump - loader_start:.2f} s, "
                     f"kernel {ready - jump:.2f} s")
            if floor:
                # Ours alone, the part of the ratio that does not move with the firmware.
                ours = bt.median(run[2] - run[0] for run in stage_times[chapter])
                note += f" (ours {ours:.3f} s = {100 * ours / floor:.1f} % of the floor)"
        if times[chapter] and times["floor"]:
            low, high = bt.ratio_interval(times[chapter], times["floor"])
            note += (f"; 90 % bootstrap interval {low:.3f}-{high:.3f}x"
                     f"; ratio of minima {min(times[chapter]) / min(times['floor']):.3f}x")
        row = bt.Row("boot", f"{chapter}: QEMU start to ready", value, floor, unit="s",
                     target=f"<= {BOOT_RATIO_TARGET}x floor", note=note)
        row.met = bt.met_at_most(row.ratio, BOOT_RATIO_TARGET)
        rows.append(row)
        if own[chapter] and own["floor"]:
            rows.append(split_row(chapter, shared, own[chapter], own["floor"]))
    return rows, logs


def split_row(chapter: str, shared: list[float], own: list[float], floor_own: list[float]) -> bt.Row:
    """The chapter's boot ratio with the firmware part estimated once, from
    every boot: one boot's firmware time varies by several per cent, in
    steps, and that spread, not the chapter, decides a ratio of whole-boot
    medians (bench_tools.split_ratio)."""
    measured, reference = bt.split_boot(shared, own, floor_own)
    low, high = bt.split_ratio_interval(shared, own, floor_own)
    row = bt.Row("boot", f"{chapter}: shared firmware + own part", measured, reference,
                 unit="s", target=f"<= {BOOT_RATIO_TARGET}x floor",
                 note=(f"firmware up to its '{FIRMWARE_SPLIT}' line: {bt.median(shared):.2f} s, median of all "
                       f"{len(shared)} boots; own part from there to ready {bt.median(own):.3f} s "
                       f"(median of {len(own)}), the floor's {bt.median(floor_own):.3f} s; "
                       f"90 % bootstrap interval {low:.3f}-{high:.3f}x"))
    row.met = bt.met_at_most(row.ratio, BOOT_RATIO_TARGET)
    return row


# ---------------------------------------------------------------------------
# Page-table footprint
# ---------------------------------------------------------------------------

def footprint_rows(label: str, text: str) -> list[bt.Row]:
    records = parse_records(text)
    fp = bt.footprint(records)
    if fp.measured is None:
        return []
    if fp.unknown_phases:
        return [bt.Row("footprint", f"{label}: table frames", fp.measured, None, unit="frames",
                       target="= minimum", met="n/a",
                       note=f"{fp.how}; minimum unknown: phases not modelled: {', '.join(fp.unknown_phases)}")]
    row = bt.Row("footprint", f"{label}: table frames", fp.measured, fp.minimum, unit="frames",
                 target="= minimum", note=f"{fp.how}; minimum from the printed memory map and layout")
    row.met = "yes" if fp.measured == fp.minimum else "no"
    return [
        row,
        bt.Row("footprint", f"{label}: same layout, 2 MiB-only", fp.only_2m, fp.minimum, unit="frames",
               note="reference: the minimum under the kernel's policy"),
        bt.Row("footprint", f"{label}: same layout, 4 KiB-only", fp.only_4k, fp.minimum, unit="frames",
               note="reference: the minimum under the kernel's policy"),
    ]


def bench_footprint(logs: dict[str, str], chapters: list[str], big_memory: str) -> list[bt.Row]:
    rows = []
    for chapter in chapters:
        if chapter in logs:
            rows += footprint_rows(chapter, logs[chapter])
    # One more machine, where 1 GiB pages exist: the newest chapter with more RAM.
    newest = chapters[-1]
    log(f"footprint: {newest} with -m {big_memory}")
    result = boot(BootConfig(chapter=newest, memory=big_memory))
    (OUT / "logs" / f"{newest}-{big_memory}.log").write_text(result.log, encoding="utf-8")
    if result.outcome == "success":
        rows += footprint_rows(f"{newest} -m {big_memory}", result.log)
    else:
        rows.append(bt.Row("footprint", f"{newest} -m {big_memory}", None, note=f"boot outcome {result.outcome}"))
    return rows


# ---------------------------------------------------------------------------
# Demand paging: the sparse gigabyte, lazy against eager
# ---------------------------------------------------------------------------

def bench_demand(logs: dict[str, str]) -> list[bt.Row]:
    chapter = "13-demand-paging"
    text = logs.get(chapter)
    if text is None:
        log(f"demand: booting {chapter}")
        result = boot(BootConfig(chapter=chapter))
        text = result.log if result.outcome == "success" else None
    cost = bt.sparse_cost(parse_records(text)) if text else None
    if cost is None:
        return [bt.Row("demand", "sparse: frames, lazy vs eager", None, note=f"no {chapter} boot with sparse's lines")]
    return [bt.Row("demand", f"sparse: frames for {cost.touched} pages touched of {cost.reserved >> 20} MiB",
                   cost.lazy_frames, cost.eager_frames, unit="frames",
                   note="lazy: munmap's pages + tables, measured; eager: the same reservation mapped up front in "
                        "4 KiB pages (a frame per page, a PT per 2 MiB, a PD per GiB), computed")]


def host_cost_run(program: Path, case: str, parse, pages: int, mode: str, under_callgrind: bool) -> dict:
    """One run of a host benchmark program (bench/fault_cost, bench/fork_cost):
    PAGES MODE on its command line, its last line parsed and checked by
    `parse`; under callgrind, only what the program's client requests count."""
    command = [str(program), str(pages), mode]
    out_file = OUT / "callgrind" / f"{case}-{pages}.{mode}.out"
    if under_callgrind:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}", *command]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{program.name} {pages} {mode} failed:\n{done.stdout}{done.stderr}")
    result = parse(done.stdout.strip().splitlines()[-1])
    if under_callgrind:
        result["instructions"] = bt.callgrind_total(out_file.read_text())
    return result


# ---------------------------------------------------------------------------
# First touch: the kernel's work per fault, and lazy against eager
# ---------------------------------------------------------------------------

#: sparse's 16 pages of its gigabyte, and more of the same spread.
FAULT_PAGES = (16, 4096)
#: Eager mapping is measured on 64 MiB and extrapolated to the gigabyte (linear: a page and a PT per 512).
EAGER_SAMPLE_PAGES = 16384
GIGABYTE_PAGES = 262144
FAULT_TIMED_RUNS = 7


def fault_run(pages: int, mode: str, under_callgrind: bool) -> dict:
    return host_cost_run(FAULT_COST, "fault", bt.fault_result, pages, mode, under_callgrind)


def bench_fault() -> list[bt.Row]:
    runs = [(pages, "lazy") for pages in FAULT_PAGES] + [(EAGER_SAMPLE_PAGES, "eager")]
    log(f"fault: callgrind, {len(runs)} runs of {FAULT_COST.relative_to(REPO_ROOT)}; "
        f"then {FAULT_TIMED_RUNS} interleaved native rounds")
    counted = {run: fault_run(*run, True) for run in runs}
    times: dict[tuple[int, str], list[float]] = {run: [] for run in runs}
    for _ in range(FAULT_TIMED_RUNS):
        for run in random.sample(runs, len(runs)):
            times[run].append(float(fault_run(*run, False)["ns"]))
    eager = counted[(EAGER_SAMPLE_PAGES, "eager")]
    eager_per_page = eager["instructions"] / EAGER_SAMPLE_PAGES
    rows = []
    for pages in FAULT_PAGES:
        lazy = counted[(pages, "lazy")]
        rows.append(bt.Row("fault", f"first touch, {pages} pages of 1 GiB: instructions per fault vs an eager page",
                           lazy["instructions"] / pages, eager_per_page, unit="instr",
                           note=f"callgrind on the host model (decide_fault, a frame zeroed, map_page; the CPU's "
                                f"exception not modelled): {lazy['tables']} tables for {pages} pages spread over the GiB; "
                                f"eager: {EAGER_SAMPLE_PAGES} consecutive pages, {eager['tables']} tables"))
    sparse = counted[(16, "lazy")]
    eager_gib_ns = bt.median(times[(EAGER_SAMPLE_PAGES, "eager")]) * GIGABYTE_PAGES / EAGER_SAMPLE_PAGES
    rows.append(bt.Row("fault", "sparse's gigabyte: time, 16 pages on first touch vs the whole GiB mapped up front",
                       bt.median(times[(16, "lazy")]) / 1e3, eager_gib_ns / 1e3, unit="us",
                       note=f"medians of {FAULT_TIMED_RUNS} native runs, interleaved; eager measured on "
                            f"{EAGER_SAMPLE_PAGES} pages and scaled to {GIGABYTE_PAGES}; frames "
                            f"{sparse['frames']} vs {GIGABYTE_PAGES + GIGABYTE_PAGES // 512 + 1}; informative"))
    return rows


# ---------------------------------------------------------------------------
# Copy-on-write: a fork, shared against copied
# ---------------------------------------------------------------------------

#: Pages the parent has touched when it forks.
FORK_PAGES = (16, 256, 4096)
#: Native runs of each (pages, mode), interleaved, for the wall-time row.
FORK_TIMED_RUNS = 7


def fork_run(pages: int, mode: str, under_callgrind: bool) -> dict:
    return host_cost_run(FORK_COST, "fork", bt.fork_result, pages, mode, under_callgrind)


def bench_fork(logs: dict[str, str]) -> list[bt.Row]:
    runs = [(pages, mode) for pages in FORK_PAGES for mode in bt.FORK_MODES]
    log(f"fork: callgrind, {len(runs)} runs of {FORK_COST.relative_to(REPO_ROOT)}; "
        f"then {FORK_TIMED_RUNS} interleaved native rounds")
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        counted = dict(zip(runs, pool.map(lambda run: fork_run(*run, True), runs)))
    times: dict[tuple[int, str], list[float]] = {run: [] for run in runs}
    for _ in range(FORK_TIMED_RUNS):  # one at a time, each round in its own order
        for run in random.sample(runs, len(runs)):
            times[run].append(float(fork_run(*run, False)["ns"]))
    rows = []
    for pages in FORK_PAGES:
        cow, write_all, eager = (counted[(pages, mode)] for mode in bt.FORK_MODES)
        rows.append(bt.Row("fork", f"{pages} pages touched: frames, copy-on-write vs eager copy", cow["frames"],
                           eager["frames"], unit="frames",
                           note=f"copy-on-write: the child's {cow['tables']} tables; eager: the same tables and a "
                                f"copy of each page; a page written later costs copy-on-write one frame"))
        rows.append(bt.Row("fork", f"{pages} pages touched: instructions, copy-on-write vs eager copy",
                           cow["instructions"], eager["instructions"], unit="instr",
                           note=f"callgrind, the fork alone: {cow['instructions'] / pages:,.0f} vs "
                                f"{eager['instructions'] / pages:,.0f} instr/page"))
        rows.append(bt.Row("fork", f"{pages} pages touched: time, copy-on-write vs eager copy",
                           bt.median(times[(pages, 'cow')]) / 1e3, bt.median(times[(pages, 'eager')]) / 1e3,
                           unit="us", note=f"the fork alone, medians of {FORK_TIMED_RUNS} native runs, interleaved "
                                           f"(-O2, no sanitizers); informative, never a target"))
        rows.append(bt.Row("fork", f"{pages} pages touched, then the child writes all: instructions, vs eager",
                           write_all["instructions"], eager["instructions"], unit="instr",
                           note=f"the worst case: {pages} write faults, each a copy (the CPU's exception and "
                                f"return not modelled); frames {write_all['frames']} vs {eager['frames']}"))
    chapter = "14-copy-on-write"
    text = logs.get(chapter)
    if text is None and paths.chapter_image(chapter).is_file():
        log(f"fork: booting {chapter}")
        result = boot(BootConfig(chapter=chapter))
        text = result.log if result.outcome == "success" else None
    family = bt.fork_family_cost(parse_records(text)) if text else None
    if family is None:
        rows.append(bt.Row("fork", "fork-cow (kernel log): frames, copy-on-write vs eager copy", None,
                           note=f"no {chapter} boot with fork-cow's lines"))
    else:
        rows.append(bt.Row("fork", "fork-cow (kernel log): frames, copy-on-write vs eager copy", family.lazy_frames,
                           family.eager_frames, unit="frames",
                           note=f"forks={family.forks}: the children's {family.tables} tables and {family.copied} pages "
                                f"copied by writes ({family.taken_over} taken over, no copy), measured; eager: the "
                                f"same tables and the {family.owned} pages the parent owned, computed"))
    return rows


# ---------------------------------------------------------------------------
# TLB shootdown: IPIs per unmapped page, batched against one batch per page
# ---------------------------------------------------------------------------

SHOOTDOWN_SMP = 4


def bench_shootdown() -> list[bt.Row]:
    chapter = "15-tlb-shootdown"
    log(f"shootdown: booting {chapter} with {SHOOTDOWN_SMP} CPUs")
    result = boot(BootConfig(chapter=chapter, smp=SHOOTDOWN_SMP))
    cost = bt.shootdown_cost(parse_records(result.log)) if result.outcome == "success" else None
    if cost is None or cost.ipis_per_page == 0:
        return [bt.Row("shootdown", "IPIs per unmapped page, batched vs per page", None,
                       note=f"no {chapter} boot with a batching line and a second CPU")]
    return [bt.Row("shootdown", f"IPIs per unmapped page, {cost.pages} pages on {cost.cpus} CPUs, batched vs per page",
                   cost.ipis_batched / cost.pages, cost.ipis_per_page / cost.pages, unit="IPIs/page",
                   note="counted by the sender in one boot: one batch for all pages, then one batch per page")]


# ---------------------------------------------------------------------------
# The reader's loop
# ---------------------------------------------------------------------------

def _make_env() -> dict[str, str]:
    # A nested make must not inherit make bench's jobserver or flags.
    return environment_outside_make()


def timed_make(tree: Path, *args: str) -> float:
    start = time.monotonic()
    done = subprocess.run(["make", "-C", str(tree), "-j2", *args], env=_make_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"make {' '.join(args)} failed in {tree}:\n{done.stdout[-4000:]}")
    return elapsed


def bench_loop(full: bool) -> list[bt.Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as scratch:
        tree = Path(scratch) / "tree"
        # A fresh clone of HEAD: the working tree's build/ (which others use) is untouched.
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO_ROOT), str(tree)], check=True)
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        log(f"loop: clean build of every chapter in a clone of {head} (make -j2 kernels)")
        clean_kernels = timed_make(tree, "kernels")
        (tree / TOUCHED_FILE).touch()
        log(f"loop: touch {TOUCHED_FILE}, make -j2 kernels")
        incremental_kernels = timed_make(tree, "kernels")
        log("loop: make clean; clean make -j2 (all: + host tests, compile_commands.json)")
        timed_make(tree, "clean")
        clean_all = timed_make(tree, "all")
        (tree / TOUCHED_FILE).touch()
        log(f"loop: touch {TOUCHED_FILE}, make -j2")
        incremental_all = timed_make(tree, "all")
        make_test = make_test_again = make_test_changed = None
        if full:
            log("loop: make test (minutes)")
            make_test = timed_make(tree, "test")
            log("loop: make test again, nothing changed (minutes)")
            make_test_again = timed_make(tree, "test")
            (tree / TOUCHED_FILE).touch()
            log(f"loop: touch {TOUCHED_FILE}, make test (minutes)")
            make_test_changed = timed_make(tree, "test")

    def row(name, value, target, note=""):
        r = bt.Row("loop", name, value, target, unit="s", target=f"<= {target:g} s", note=note)
        r.met = bt.met_at_most(value, target)
        return r

    cores = f"{os.cpu_count()} cores, -j2"
    rows.append(row("clean build, all chapters (make kernels)", clean_kernels, CLEAN_BUILD_TARGET,
                    f"loader + every chapter's kernel.elf and disk.img; {cores}; clone of {head}"))
    rows.append(row(f"incremental after touching {TOUCHED_FILE} (make kernels)", incremental_kernels,
                    INCREMENTAL_TARGET, "recompiles it once, relinks and re-images every chapter using it"))
    rows.append(row("clean build, make all (+ host tests, fuzz targets)", clean_all, CLEAN_BUILD_TARGET,
                    "what plain `make` builds: the chapters, the GoogleTest binary under ASan/UBSan "
                    "and the libFuzzer targets"))
    rows.append(bt.Row("loop", "incremental after touch, make all", incremental_all, unit="s",
                       note="informative: also recompiles the host-test object and relinks host_tests"))
    if full:
        rows.append(row("make test wall time", make_test, MAKE_TEST_TARGET,
                        f"after make all, in the clone: also captures the book's boots, which the tests "
                        f"of the same run read back instead of booting again; {cores}"))
        rows.append(row("make test wall time, run again", make_test_again, MAKE_TEST_TARGET,
                        "the reader's rerun: nothing to build, the book up to date; "
                        "host tests, fuzz replay and short runs, every test boot"))
        rows.append(row(f"make test wall time after touching {TOUCHED_FILE}", make_test_changed, MAKE_TEST_TARGET,
                        "the reader's loop: rebuilds the chapters using it, captures their book logs "
                        "again, and the tests read those back"))
    else:
        rows.append(bt.Row("loop", "make test wall time", None, unit="s", target=f"<= {MAKE_TEST_TARGET:g} s",
                           met="n/a", note="skipped: run `make bench BENCH_FULL=1` to time it"))
    return rows


# ---------------------------------------------------------------------------

SECTIONS = ("mapping", "boot", "footprint", "demand", "fault", "fork", "shootdown", "loop")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="interleaved boot rounds (default 5)")
    parser.add_argument("--full", action="store_true", help="also time `make test` (minutes)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--big-memory", default="8G", help="RAM of the footprint's extra boot (default 8G)")
    args = parser.parse_args(argv)

    OUT.mkdir(parents=True, exist_ok=True)
    chapters = paths.chapters()
    chapters = [c for c in chapters if paths.chapter_image(c).is_file()]
    started = time.time()
    rows: list[bt.Row] = []
    if "mapping" in args.only:
        rows += bench_mapping()
    logs: dict[str, str] = {}
    if "boot" in args.only or "footprint" in args.only:
        boot_rows, logs = bench_boot(chapters, args.runs if "boot" in args.only else 1)
        if "boot" in args.only:
            rows += boot_rows
    if "footprint" in args.only:
        rows += bench_footprint(logs, chapters, args.big_memory)
    if "demand" in args.only:
        rows += bench_demand(logs)
    if "fault" in args.only:
        rows += bench_fault()
    if "fork" in args.only:
        rows += bench_fork(logs)
    if "shootdown" in args.only:
        rows += bench_shootdown()
    if "loop" in args.only:
        rows += bench_loop(args.full)

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "seconds": round(time.time() - started, 1),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "commit": subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip(),
        "boot_runs": args.runs,
        "chapters": chapters,
    }
    bt.write_csv(rows, OUT / "results.csv")
    bt.write_json(rows, OUT / "results.json", meta)
    print()
    print(bt.format_table(rows))
    print()
    print(f"written: {(OUT / 'results.csv').relative_to(REPO_ROOT)}, {(OUT / 'results.json').relative_to(REPO_ROOT)}"
          f" ({meta['seconds']} s, commit {meta['commit']}, {meta['cpus']} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
