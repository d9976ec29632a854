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

* Collection order: the longest test scopes first, as timed by the last
  green run (``build/test-durations.json``), so no long module is the run's tail.
"""

from __future__ import annotations

import json
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
    timed = _timed_scopes()
    lines.append(f"order: longest test modules first, {len(timed)} scopes as timed in {DURATIONS.relative_to(harness.REPO_ROOT)}"
                 if timed else "order: longest test modules first, from first-run estimates (nothing timed yet)")
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


#: Seconds each test scope took in the last green run that ran all of it. A
#: scope is what ``-n auto --dist loadscope`` hands one worker from start to
#: end: a module, or a class. Workers take the scopes in collection order, so
#: a long scope that starts late is the run's tail with the other core idle
#: (chapter tests then test_try_it.py's 36 boots and GDB sessions were the
#: last 75 s of a run); the longest modules start first instead.
DURATIONS = harness.BUILD_DIR / "test-durations.json"

#: Before any of a module's scopes has been timed (a fresh clone): the long
#: modules, as a first make test on two cores timed them. A scope or module
#: neither timed nor listed counts as DEFAULT_SECONDS.
FIRST_RUN_SECONDS = {
    "tests/test_try_it.py": 93, "tests/test_book.py": 44, "tests/test_make_check.py": 37,
    "tests/test_matrix.py": 20, "tests/test_reader_commands.py": 17, "tests/test_06_mmio.py": 14,
    "tests/test_01_loader_rejects.py": 13, "tests/test_01_failures.py": 12, "tests/test_fuzz.py": 12,
    "tests/test_dead_includes.py": 11, "tests/test_02_memory_map.py": 10, "tests/test_debug.py": 9,
    "tests/test_12_user_space.py": 9, "tests/test_usb_stick.py": 8, "tests/test_04_page_tables.py": 8,
    "tests/test_01_machines.py": 7,
}
DEFAULT_SECONDS = 5.0


def scope_of(nodeid: str) -> str:
    """What xdist's loadscope groups a test by: its node id without the last part."""
    return nodeid.rsplit("::", 1)[0]


def _timed_scopes() -> dict[str, float]:
    try:
        return {scope: float(seconds) for scope, seconds in json.loads(DURATIONS.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    timed, scopes = _timed_scopes(), {}
    for item in items:
        scopes.setdefault(item.nodeid.split("::")[0], {}).setdefault(scope_of(item.nodeid))

    def seconds(module: str) -> float:
        if any(scope in timed for scope in scopes[module]):
            return sum(timed.get(scope, DEFAULT_SECONDS) for scope in scopes[module])
        return FIRST_RUN_SECONDS.get(module, DEFAULT_SECONDS)

    # The longest modules first, each with its scopes together (its classes
    # share its module's boots): a stable sort keeps every other order.
    estimate = {module: seconds(module) for module in scopes}
    items.sort(key=lambda item: -estimate[item.nodeid.split("::")[0]])


#: Seconds per scope in this process: in the xdist controller every worker's
#: tests are reported, in a run without xdist its own.
_scope_seconds: dict[str, float] = {}
_deselected: list[pytest.Item] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    scope = scope_of(report.nodeid)
    _scope_seconds[scope] = _scope_seconds.get(scope, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Keep the scopes' times for the next run's order, from a green run that
    deselected nothing (a scope run in part would look short)."""
    config = session.config
    if hasattr(config, "workerinput") or exitstatus != 0 or not _scope_seconds:
        return
    # Under xdist the workers deselect, not this process: look at what was asked too.
    if (_deselected or config.getoption("keyword") or config.getoption("markexpr") or config.getoption("lf", False)
            or any("::" in arg for arg in config.args)):
        return
    timed = _timed_scopes() | {scope: round(seconds, 1) for scope, seconds in _scope_seconds.items()}
    DURATIONS.parent.mkdir(parents=True, exist_ok=True)
    partial = DURATIONS.with_suffix(".partial")
    partial.write_text(json.dumps(timed, indent=1, sort_keys=True) + "\n")
    os.replace(partial, DURATIONS)
