"""The fast subset of the boot matrix (tests/harness/matrix.py): every machine
type, memory size, CPU model and CPU count at least once, on the newest
chapters. ``make test-matrix`` runs the full product for every chapter.

Each cell boots once, and its log also shows that the loader's decisions follow
the machine: the identity map it hands over covers all of RAM, even far above
the 32-bit PCI hole, and never less than the 4 GiB below it."""

from __future__ import annotations

from functools import cache

import pytest

import harness
from harness.log import loader_memory_map, size_field
from harness.matrix import DIMENSIONS, Cell, fast_subset, problems

CELLS = fast_subset(harness.chapters())
GiB = 1 << 30


@cache
def boot_cell(cell: Cell) -> harness.BootResult:
    return harness.boot(cell.config())


def test_the_subset_covers_every_value_of_every_dimension():
    for dimension, values in DIMENSIONS.items():
        assert {getattr(c, dimension) for c in CELLS} == set(values), dimension


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_boots_to_ready(built, cell):
    result = boot_cell(cell)
    assert not problems(result), f"{cell.name}: {problems(result)}\n{result.describe(30)}"


#: The memory types the kernel counts as RAM (mm::classify_descriptor), as the loader's map dump names them.
RAM_TYPES = {"conventional", "loader-code", "loader-data", "boot-code", "boot-data", "runtime-code", "runtime-data",
             "acpi-reclaim", "acpi-nvs", "kernel-image", "boot-handoff", "boot-page-tables", "boot-stack"}


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_the_loaders_identity_map_covers_all_of_ram(built, cell):
    result = boot_cell(cell)
    # RAM only (common/boot/identity_extent.h): a device window above RAM does not move it.
    top = max(end for kind, _start, end in loader_memory_map(result.records) if kind in RAM_TYPES)
    identity = size_field(result.record("loader", "bootstrap tables"), "identity")
    # Whole 1 GiB pages up to the top of the map; at least the 4 GiB below the
    # PCI hole, where the firmware's devices and the framebuffer live.
    assert identity == max(4 * GiB, (top + GiB - 1) // GiB * GiB), f"{cell.name}: top of map {top:#x}"
    if cell.memory.endswith("G") and int(cell.memory[:-1]) > 4:
        assert top > 4 * GiB  # RAM above the hole: the map, and so the identity map, goes past 4 GiB


def test_the_readme_lists_the_matrix_as_it_is():
    readme = (harness.REPO_ROOT / "tests" / "README.md").read_text()
    line = " ".join(readme.split())  # the list wraps over several lines
    assert "machine `q35`/`pc`" in line
    assert "memory " + "/".join(DIMENSIONS["memory"]) in line
    for cpu in DIMENSIONS["cpu"]:
        assert f"`{cpu}`" in line
    assert " or ".join(DIMENSIONS["smp"]) + " CPUs" in line
