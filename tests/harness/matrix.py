"""The boot matrix: every chapter on every machine shape we promise to run on.

A cell is (chapter, machine, memory, cpu, smp). A cell passes when the kernel
reaches ``ready`` (so all of its self-checks passed), exits with the success
code, and printed no WARN, ERROR or PANIC line.

* :data:`DIMENSIONS`  the values of each dimension, and why each is there
* :func:`full_matrix` their product, for ``make test-matrix``
* :func:`fast_subset` a few cells that still cover every value of every
  dimension, for ``make test``
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .qemu import BootConfig, BootResult, boot

DIMENSIONS: dict[str, tuple[str, ...]] = {
    # PCIe/AHCI, and the older i440FX/IDE chipset with a different memory layout.
    "machine": ("q35", "pc"),
    # Tiny, middling, just below the PCI hole on pc, and RAM far above 4 GiB.
    "memory": ("64M", "512M", "3G", "8G"),
    # Everything TCG emulates; no 1 GiB pages and no SMEP/SMAP (qemu64);
    # 1 GiB pages but no SMEP/SMAP (Westmere).
    "cpu": ("max", "qemu64", "Westmere"),
    # One CPU, and several (before chapter 15 the kernel runs on the bootstrap processor only).
    "smp": ("1", "4"),
}


@dataclass(frozen=True)
class Cell:
    chapter: str
    machine: str
    memory: str
    cpu: str
    smp: str

    @property
    def name(self) -> str:
        return f"{self.chapter}-{self.machine}-{self.memory}-{self.cpu}-smp{self.smp}"

    def config(self) -> BootConfig:
        # loader.dump-map: the memory map the loader's decisions are checked against.
        return BootConfig(self.chapter, memory=self.memory, smp=int(self.smp), cpu=self.cpu,
                          machine=self.machine, cmdline="loader.dump-map", timeout=180)


def full_matrix(chapters: list[str]) -> list[Cell]:
    return [Cell(c, *values) for c in chapters for values in itertools.product(*DIMENSIONS.values())]


def fast_subset(chapters: list[str]) -> list[Cell]:
    """As many cells as the longest dimension has values: cell i takes value i
    (wrapping) of every dimension, and the chapters take turns, newest first.
    Every value of every dimension boots at least once, in a different
    combination each; the other cells of the product are `make test-matrix`'s."""
    width = max(len(values) for values in DIMENSIONS.values())
    newest_first = list(reversed(chapters))
    return [
        Cell(newest_first[i % len(newest_first)], *[values[i % len(values)] for values in DIMENSIONS.values()])
        for i in range(width)
    ]


#: Warnings a boot prints by design, on every machine: chapter 12's hostile
#: programs are each stopped by name and its wrong-args has each argument
#: refused (tests/test_12_user_space.py checks which), chapter 13's mmap-rules
#: has each bad argument refused by name (tests/test_13_demand_paging.py), and
#: chapter 14's wait-rules each bad wait (tests/test_14_copy_on_write.py).
EXPECTED_WARNINGS = {("user", "killed"), ("user", "refused"), ("vm", "refused"), ("sched", "refused")}


def problems(result: BootResult) -> list[str]:
    """Why a cell failed (empty when it passed)."""
    found = []
    if result.outcome != "success":
        found.append(f"outcome {result.outcome}")
    if not [r for r in result.records_for("kernel") if r.event == "ready"]:
        found.append("no ready line")
    found += [str(r) for r in result.records if r.level in ("WARN", "ERROR", "PANIC")
              and not (r.level == "WARN" and (r.subsystem, r.event) in EXPECTED_WARNINGS)][:3]
    return found


def run_cell(cell: Cell) -> tuple[Cell, list[str]]:
    return cell, problems(boot(cell.config()))
