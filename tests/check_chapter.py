#!/usr/bin/python3
"""``make check CH=NN-name``: one chapter's tests, on what was just built.

Usage (the Makefile builds the host tests and the chapter's image first)::

    tests/check_chapter.py HOST_TEST_BIN CHAPTER [-- PYTEST_ARGS]

The check runs

1. the host unit tests of CHAPTER and of every chapter it builds on
   (``CHAPTER_HOST_TESTS`` along its ``CHAPTER_BASE`` chain: its kernel is
   built from their modules too), selected by the source file each test is
   in, as GoogleTest itself reports it;
2. the chapter's boot tests, ``tests/test_NN_*.py``, with pytest.

It says what it runs before running it, and stops at the first part that fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import resolve_chapter  # noqa: E402
from harness.paths import REPO_ROOT, chapter_lineage, chapter_variables  # noqa: E402

PYTHON = "/usr/bin/python3"  # Debian's: it sees python3-pytest and python3-xdist


def host_test_suites(binary: Path) -> dict[str, set[str]]:
    """Test-file stem -> the GoogleTest suites defined in it."""
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "tests.json"
        subprocess.run([str(binary), "--gtest_list_tests", f"--gtest_output=json:{listing}"],
                       check=True, stdout=subprocess.DEVNULL)
        report = json.loads(listing.read_text())
    suites: dict[str, set[str]] = {}
    for suite in report["testsuites"]:
        for test in suite["testsuite"]:
            suites.setdefault(Path(test["file"]).stem, set()).add(suite["name"])
    return suites


def host_files_through(chapter: str) -> list[str]:
    """The host test files of ``chapter`` and of every chapter it builds on, oldest first."""
    return [name for link in reversed(chapter_lineage(chapter)) for name in chapter_variables(link).get(
        "CHAPTER_HOST_TESTS", [])]


def boot_test_modules(chapter: str) -> list[Path]:
    return sorted((REPO_ROOT / "tests").glob(f"test_{chapter[:2]}_*.py"))


def main(argv: list[str]) -> int:
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    binary, chapter = Path(argv[0]), resolve_chapter(argv[1])

    files = host_files_through(chapter)
    suites = host_test_suites(binary)
    unknown = [name for name in files if name not in suites]
    if unknown:
        print(f"check: CHAPTER_HOST_TESTS names files without tests: {', '.join(unknown)}", file=sys.stderr)
        return 2
    test_filter = ":".join(f"{suite}.*" for name in files for suite in sorted(suites[name]))
    print(f"check: {chapter}: host tests of {', '.join(files)}", flush=True)
    if subprocess.run([str(binary), f"--gtest_filter={test_filter}", "--gtest_brief=1"]).returncode != 0:
        return 1

    modules = boot_test_modules(chapter)
    if not modules:
        print(f"check: {chapter} has no boot tests (tests/test_{chapter[:2]}_*.py)", file=sys.stderr)
        return 2
    print(f"check: {chapter}: boot tests {' '.join(str(m.relative_to(REPO_ROOT)) for m in modules)}", flush=True)
    # The pytest fixture `built` then asks for this chapter's build only.
    env = dict(os.environ, KERNEL_TEST_CHAPTERS=chapter)
    command = [PYTHON, "-m", "pytest", *pytest_args, *map(str, modules)]
    return subprocess.run(command, cwd=REPO_ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
