"""Shared pytest setup for the QEMU tests.

* Makes ``import harness`` work from any test file in ``tests/``.
* Fixtures:

  ``built``           fails the session (never skips) if ``make`` has not
                      produced every chapter's ``disk.img`` and ``kernel.elf``
                      (only those of ``$KERNEL_TEST_CHAPTERS`` if set, as
                      ``make check`` sets it)
  ``boot``            :func:`harness.boot`, after checking the build
  ``assert_outcome``  compare a result's outcome; on mismatch fail with the
                      last 40 serial lines and QEMU's stderr
  ``chapter``         the newest chapter's name

Tests that do not boot anything (``test_harness_selftest.py``) use none of
these, so they run even before the first build.

* Collection order: ``STARTS_FIRST`` modules go to the front.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import harness  # noqa: E402  (needs the sys.path entry above)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show, at the top of the run, which QEMU and which exit codes are in use."""
    lines = []
    try:
        version = subprocess.run(
            [harness.qemu_argv.QEMU_BINARY, "--version"], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()
        lines.append(f"qemu: {version[0] if version else 'unknown'}")
    except (OSError, subprocess.TimeoutExpired) as error:
        lines.append(f"qemu: not runnable ({error})")
    try:
        codes = harness.load_exit_codes()
        lines.append(
            f"exit statuses: success={codes.success_status} failure={codes.failure_status} "
            f"(isa-debug-exit port {codes.port:#x})"
        )
    except (OSError, ValueError) as error:
        lines.append(f"exit codes: cannot parse header ({error})")
    return lines


@pytest.fixture(scope="session")
def built() -> list[str]:
    """Check that every chapter has been built; return the chapter names.

    A missing image is an error, not a skip: a green run that booted nothing
    would be misleading.
    """
    names = harness.chapters()
    if not names:
        pytest.fail(f"no chapters found in {harness.paths.CHAPTERS_DIR}", pytrace=False)
    # `make check CH=...` builds one chapter and runs its tests only: it names
    # the chapter here, and the other chapters need not be built.
    required = os.environ.get("KERNEL_TEST_CHAPTERS", "").split() or names
    missing = [
        str(path.relative_to(harness.REPO_ROOT))
        for name in required
        for path in (harness.chapter_image(name), harness.chapter_kernel(name))
        if not path.is_file()
    ]
    if missing:
        pytest.fail("run make first; missing build outputs: " + ", ".join(missing), pytrace=False)
    return names


@pytest.fixture
def boot(built):
    """:func:`harness.boot`, usable only once the build exists.

    Accepts either a :class:`harness.BootConfig` or its keyword arguments::

        def test_something(boot):
            result = boot(chapter="01-boot", cmdline="verbose")
    """

    def run(config: harness.BootConfig | None = None, **kwargs) -> harness.BootResult:
        if config is None:
            config = harness.BootConfig(**kwargs)
        elif kwargs:
            raise TypeError("pass a BootConfig or keyword arguments, not both")
        if config.chapter not in built:
            pytest.fail(f"unknown chapter {config.chapter!r}; known: {', '.join(built)}", pytrace=False)
        return harness.boot(config)

    return run


def check_outcome(result: harness.BootResult, expected) -> None:
    """Fail the test unless ``result.outcome`` is ``expected`` (a string or a set of them).

    The failure message holds the last 40 serial lines and QEMU's stderr, which
    is usually enough to see what went wrong without re-running.
    """
    try:
        harness.assert_outcome(result, expected)
    except AssertionError as error:
        message = str(error)
    else:
        return
    # Fail outside the except block, so pytest does not print the message twice
    # ("During handling of the above exception...").
    pytest.fail(message, pytrace=False)


@pytest.fixture
def assert_outcome():
    """The :func:`check_outcome` helper as a fixture, so tests need no import."""
    return check_outcome


@pytest.fixture(scope="session")
def chapter(built) -> str:
    """Name of the newest chapter (what ``make run`` boots)."""
    return built[-1]


#: Modules that start first. Under ``-n auto --dist loadscope`` a module (or a
#: class) runs on one worker from start to end, so a long one that starts late
#: is the run's tail, with the other core idle: the book's (its fixture runs
#: Sphinx, its tests drive Chromium) and the matrix's (four boots, one after the
#: other; it was the last 11 s of a run). First, they overlap the other worker's boots.
STARTS_FIRST = ("test_book.py", "test_matrix.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort keeps every other module, and every test in a module, in its order.
    items.sort(key=lambda item: item.path.name not in STARTS_FIRST)
