"""`make check CH=05-paging`, as a reader doing chapter 05's first exercise runs it.

It must pass on the tree as it is, and fail right after `for_each_ram_run` is
broken, with no other command in between: the check rebuilds what it tests.
Both runs happen in a copy of the working tree and of its build (timestamps
kept, so only what the edit touches is rebuilt); the real tree, which other
tests are booting from, is never edited.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import harness
from harness import boot_logs
from harness.paths import environment_outside_make

REPO = harness.REPO_ROOT
CHAPTER = "05-paging"
#: Folders of the build that `make check` never reads: not worth copying. The
#: book's boot logs are, so the passing check's boot tests read back the boots
#: this `make test` made (the session id goes with the environment); test-boots
#: is linked, not copied (copy_tree).
UNUSED_BUILD = {"fuzz", "bench", "test-boots"}


def copy_tree(target: Path) -> Path:
    def skip(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        if here == REPO:
            return {".git", "labs"} & set(names)
        if here == REPO / "build":
            return UNUSED_BUILD & set(names)
        if here == REPO / "build" / "book":
            return {"html"} & set(names)
        return set()

    shutil.copytree(REPO, target, ignore=skip, symlinks=True)
    # The boots test modules share, shared with this copy too: its images keep
    # their timestamps, so until the edit it boots the very same images, and
    # chapter 05's tests here and in this `make test` make each boot once.
    boot_logs.SHARED_DIR.mkdir(parents=True, exist_ok=True)
    (target / "build" / "test-boots").symlink_to(boot_logs.SHARED_DIR)
    return target


def make_check(tree: Path) -> subprocess.CompletedProcess:
    env = environment_outside_make()
    return subprocess.run(["make", "check", f"CH={CHAPTER}", "PYTEST_ARGS=-q -p no:cacheprovider"], cwd=tree,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", timeout=600, env=env)


def test_make_check_passes_then_fails_on_a_broken_ram_run_merge(built, tmp_path):
    tree = copy_tree(tmp_path / "tree")

    passing = make_check(tree)
    assert passing.returncode == 0, passing.stdout[-4000:]
    assert f"check: {CHAPTER}: host tests of" in passing.stdout
    assert "tests/test_05_paging.py" in passing.stdout

    # Exercise 1 of chapter 05: end a run at every range instead of merging.
    header = tree / "common" / "mm" / "ram_runs.h"
    source = header.read_text()
    merge = "is_ram(ranges[i]) && ranges[i].start == run.end"
    assert merge in source, "for_each_ram_run changed: update this test's edit"
    header.write_text(source.replace(merge, "false && " + merge))

    failing = make_check(tree)
    assert failing.returncode != 0, failing.stdout[-4000:]
    assert "CXX     common/mm/phys_window.cpp" in failing.stdout, "the check did not rebuild the kernel"
    assert "HOSTCXX common/mm/phys_window.cpp" in failing.stdout, "the check did not rebuild the host tests"
    assert "[  FAILED  ] RamRuns." in failing.stdout
