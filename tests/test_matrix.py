"""The fast subset of the boot matrix (tests/harness/matrix.py): every machine
type, memory size, CPU model and CPU count at least once, on the newest
chapters. ``make test-matrix`` runs the full product for every chapter."""

from __future__ import annotations

import pytest

import harness
from harness.matrix import DIMENSIONS, fast_subset, problems

CELLS = fast_subset(harness.chapters())


def test_the_subset_covers_every_value_of_every_dimension():
    for dimension, values in DIMENSIONS.items():
        assert {getattr(c, dimension) for c in CELLS} == set(values), dimension


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_boots_to_ready(built, cell):
    result = harness.boot(cell.config())
    assert not problems(result), f"{cell.name}: {problems(result)}\n{result.describe(30)}"


def test_the_readme_lists_the_matrix_as_it_is():
    readme = (harness.REPO_ROOT / "README.md").read_text()
    line = " ".join(readme.split())  # the list wraps over several lines
    assert "machine `q35`/`pc`" in line
    assert "memory " + "/".join(DIMENSIONS["memory"]) in line
    for cpu in DIMENSIONS["cpu"]:
        assert f"`{cpu}`" in line
    assert " or ".join(DIMENSIONS["smp"]) + " CPUs" in line
