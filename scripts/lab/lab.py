#!/usr/bin/python3
"""``make lab`` and ``make grade``: a chapter's key pieces, written by the reader and graded.

Usage::

    scripts/lab/lab.py start CHAPTER [--fresh]          make lab CH=NN-name [FRESH=1]
    scripts/lab/lab.py grade CHAPTER [--solution]       make grade CH=NN-name [SOLUTION=1]
    scripts/lab/lab.py grade CHAPTER --variant V --workspace DIR --json FILE   (make test-labs)

``start`` creates ``labs/NN-name/`` (see workspace.py) with the skeletons in
place and a LAB.md that says what to write. ``grade`` puts every non-lab file
of the workspace back to the reference's, builds the chapter's kernel and the
lab's host tests from it, runs each part's host tests (GoogleTest filter)
and boot tests (pytest on the workspace's image), and prints one line per part
with its points; each failing part gets its rule, what failed, and its first
hint. ``--solution`` grades the reference through the same path, in
``build/lab-solution/NN-name``. The exit status is 0 only with full marks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labspec  # noqa: E402
import workspace as ws  # noqa: E402
from labspec import REPO_ROOT, Lab, LabError, Part  # noqa: E402

PYTHON = "/usr/bin/python3"


@dataclass
class PartResult:
    name: str
    points: int
    earned: int
    failures: list[str] = field(default_factory=list)  #: what failed, one line each


# ---------------------------------------------------------------------------
# Grading one part
# ---------------------------------------------------------------------------


def _first_lines(text: str, count: int = 2) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[:count])


def grade_host(part: Part, workspace: Path) -> list[str]:
    """Failures of the part's host tests (empty: every selected test passed)."""
    binary = workspace / "build" / "host" / "lab_tests"
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "report.json"
        run = subprocess.run([str(binary), f"--gtest_filter={part.host}", f"--gtest_output=json:{report_path}",
                              "--gtest_brief=1"], capture_output=True, text=True, timeout=600)
        if not report_path.is_file():
            # The binary died outside a death test: a skeleton's TODO, or a crash.
            said = [line for line in run.stderr.splitlines() if "TODO(lab" in line or "ERROR" in line]
            running = re.findall(r"\[ RUN      \] (\S+)", run.stdout)
            where = f" in {running[-1]}" if running else ""
            return [f"the host tests stopped{where}: {_first_lines(chr(10).join(said) or run.stderr[-400:])}"]
        report = json.loads(report_path.read_text())
    if report.get("tests", 0) == 0:
        return [f"no host test matches {part.host!r} (the lab file names tests that do not exist)"]
    failures = []
    for suite in report["testsuites"]:
        for test in suite["testsuite"]:
            for failure in test.get("failures", []):
                failures.append(f"{suite['name']}.{test['name']}: {_first_lines(failure['failure'], 3)}")
                break
    if run.returncode != 0 and not failures:
        failures.append(f"the host tests failed: {_first_lines(run.stdout[-400:])}")
    return failures


def grade_boot(part: Part, lab: Lab, workspace: Path) -> list[str]:
    """Failures of the part's boot tests, run by the workspace's pytest against its own image."""
    modules = sorted(str(p.relative_to(workspace)) for p in (workspace / "tests").glob(f"test_{lab.chapter[:2]}_*.py"))
    env = dict(os.environ, KERNEL_TEST_CHAPTERS=lab.chapter, BOOT_LOG_SESSION="")
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "-rf",
                          "-k", part.boot, *modules], cwd=workspace, env=env, capture_output=True, text=True,
                         timeout=900)
    if run.returncode == 5:
        return [f"no boot test matches -k {part.boot!r}"]
    if run.returncode == 0:
        return []
    failed = re.findall(r"^FAILED (\S+)(?: - (.*))?$", run.stdout, re.MULTILINE)
    if failed:
        return [f"{test.split('::')[-1]}: {(why or '').strip()[:300]}" for test, why in failed]
    return [f"the boot tests failed: {_first_lines(run.stdout[-600:] + run.stderr[-600:], 4)}"]


def grade(lab: Lab, workspace: Path) -> tuple[list[PartResult], str]:
    """Every part's result, and the build's error output when the workspace does not build."""
    changed, restored = ws.refresh(lab, workspace)
    ws.seed_build(lab.chapter, workspace, changed, restored)
    made = ws.build(lab, workspace)
    if made.returncode != 0:
        errors = [line for line in (made.stdout + made.stderr).splitlines() if "error" in line.lower()]
        why = "the workspace does not build: " + _first_lines("\n".join(errors[:3]) or made.stderr[-600:], 3)
        return [PartResult(p.name, p.points, 0, [why]) for p in lab.parts], made.stdout + made.stderr
    results = []
    for part in lab.parts:
        failures = grade_host(part, workspace) if part.host else []
        if part.boot and not failures:  # a boot costs seconds: only once the host tests pass
            failures = grade_boot(part, lab, workspace)
        results.append(PartResult(part.name, part.points, 0 if failures else part.points, failures))
    return results, ""


def report(lab: Lab, workspace: Path, results: list[PartResult]) -> str:
    where = workspace.relative_to(REPO_ROOT) if workspace.is_relative_to(REPO_ROOT) else workspace
    lines = [f"grade {lab.chapter} ({where})", f"  {'part':<22} {'points':>7}  result"]
    for result in results:
        verdict = "ok" if result.earned == result.points else "FAIL"
        lines.append(f"  {result.name:<22} {result.earned:>3}/{result.points:<3}  {verdict}")
    earned, total = sum(r.earned for r in results), sum(r.points for r in results)
    lines.append(f"  {'score':<22} {earned:>3}/{total:<3}")
    for result in results:
        if result.earned == result.points:
            continue
        part = lab.part(result.name)
        lines.append("")
        lines.append(f"FAIL {part.name} ({part.file})")
        lines += textwrap.wrap(part.rule, 96, initial_indent="  rule: ", subsequent_indent="        ", break_on_hyphens=False)
        for failure in result.failures[:4]:
            lines += textwrap.wrap(failure, 96, initial_indent="  failed: ", subsequent_indent="          ")
        if len(result.failures) > 4:
            lines.append(f"  … and {len(result.failures) - 4} more")
        lines += textwrap.wrap(part.hints[0], 96, initial_indent="  hint 1: ", subsequent_indent="          ")
        if len(part.hints) > 1:
            lines.append(f"  ({len(part.hints) - 1} more hint(s), in order: labs/{lab.chapter}/LAB.md, or the "
                         f"'Lab' section of chapters/{lab.chapter}/README.md)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def lab_guide(lab: Lab, where: str) -> str:
    """LAB.md of a new workspace: what to write, where, and how to grade it."""
    lines = [f"# Lab {lab.chapter}", "", lab.summary, "",
             f"Write each piece below in this folder ({where}/), between its `lab:begin` and",
             "`lab:end` lines, where the skeleton now refuses with `TODO(lab NAME)`. Only these",
             "files are yours: every other file is put back to the tutorial's before each grade.", "",
             f"Grade from the repository root: `make grade CH={lab.chapter}`.",
             f"`make grade CH={lab.chapter} SOLUTION=1` grades the tutorial's own code the same way.", ""]
    for part in lab.parts:
        lines += [f"## {part.name} ({part.points} points) — `{part.file}`", "", part.rule, "", "Hints, in order:", ""]
        lines += [f"{number}. {hint}" for number, hint in enumerate(part.hints, start=1)]
        lines.append("")
    return "\n".join(lines)


def start(lab: Lab, fresh: bool) -> int:
    workspace = REPO_ROOT / "labs" / lab.chapter
    where = f"labs/{lab.chapter}"
    if workspace.exists():
        if not fresh:
            print(f"lab: {where} exists and keeps your work; grade it with `make grade CH={lab.chapter}`, "
                  f"or start over with `make lab CH={lab.chapter} FRESH=1` (your copy moves to {where}.old)")
            return 0
        old = workspace.with_name(lab.chapter + ".old")
        shutil.rmtree(old, ignore_errors=True)
        workspace.rename(old)
        print(f"lab: your earlier copy is now {where}.old")
    ws.create(lab, workspace, "skeleton")
    (workspace / "LAB.md").write_text(lab_guide(lab, where), encoding="utf-8")
    print(f"lab: {where} is ready; write these, then `make grade CH={lab.chapter}`:")
    for part in lab.parts:
        print(f"  {part.name:<22} {where}/{part.file}")
    print(f"  (what each must do, and hints: {where}/LAB.md)")
    return 0


def grade_command(lab: Lab, workspace: Path | None, variant: str | None, json_out: Path | None) -> int:
    if variant is not None:
        if workspace is None:
            raise LabError("--variant needs --workspace")
        shutil.rmtree(workspace, ignore_errors=True)
        ws.create(lab, workspace, variant)
    elif workspace is None:
        workspace = REPO_ROOT / "labs" / lab.chapter
        if not workspace.is_dir():
            print(f"grade: no workspace labs/{lab.chapter}; start one with `make lab CH={lab.chapter}`",
                  file=sys.stderr)
            return 2
    results, build_log = grade(lab, workspace)
    text = report(lab, workspace, results)
    print(text)
    if build_log:
        print("\nbuild output (last lines):\n" + "\n".join(build_log.splitlines()[-15:]))
    if json_out is not None:
        json_out.write_text(json.dumps({"chapter": lab.chapter, "variant": variant, "report": text,
                                        "parts": [asdict(r) for r in results]}, indent=1))
    return 0 if all(r.earned == r.points for r in results) else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start_parser = sub.add_parser("start")
    start_parser.add_argument("chapter")
    start_parser.add_argument("--fresh", action="store_true")
    grade_parser = sub.add_parser("grade")
    grade_parser.add_argument("chapter")
    grade_parser.add_argument("--solution", action="store_true")
    grade_parser.add_argument("--variant")
    grade_parser.add_argument("--workspace", type=Path)
    grade_parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from harness import resolve_chapter  # noqa: E402
    try:
        lab = labspec.load(resolve_chapter(args.chapter))
        if args.command == "start":
            return start(lab, args.fresh)
        if args.solution:
            return grade_command(lab, REPO_ROOT / "build" / "lab-solution" / lab.chapter, "solution", args.json)
        return grade_command(lab, args.workspace, args.variant, args.json)
    except LabError as error:
        print(f"lab: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
