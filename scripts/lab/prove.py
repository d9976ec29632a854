#!/usr/bin/python3
"""``make test-labs``: every lab's grader, proven on code whose grade is known.

For each chapter with a ``lab.toml`` it grades, through exactly the path of
``make grade`` (scripts/lab/lab.py), in ``build/lab-proofs/``:

* the reference (``solution``): every part must get full marks;
* the untouched skeleton: every part must get zero;
* each planted bug (``[[part.bug]]``): its part, and only its part, must fail,
  and the report must name that part's rule.

The gradings run in parallel, one per core. Usage: ``prove.py [CHAPTER ...]``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labspec  # noqa: E402
from labspec import REPO_ROOT, Lab  # noqa: E402

PYTHON = "/usr/bin/python3"
PROOFS = REPO_ROOT / "build" / "lab-proofs"


def variants(lab: Lab) -> list[str]:
    return ["solution", "skeleton"] + [f"bug:{part.name}:{bug.name}" for part in lab.parts for bug in part.bugs]


def expected_failing(lab: Lab, variant: str) -> set[str]:
    if variant == "solution":
        return set()
    if variant == "skeleton":
        return {part.name for part in lab.parts}
    return {variant.split(":")[1]}


def prove_one(lab: Lab, variant: str) -> tuple[str, str, list[str], float]:
    """(chapter, variant, problems, seconds) for one grading."""
    folder = PROOFS / f"{lab.chapter}--{variant.replace(':', '--')}"
    result_file = folder.with_suffix(".json")
    started = time.monotonic()
    run = subprocess.run([PYTHON, str(REPO_ROOT / "scripts" / "lab" / "lab.py"), "grade", lab.chapter,
                          "--variant", variant, "--workspace", str(folder), "--json", str(result_file)],
                         capture_output=True, text=True)
    seconds = time.monotonic() - started
    if not result_file.is_file():
        return lab.chapter, variant, [f"the grader did not finish (status {run.returncode}): {run.stderr[-800:]}"], seconds
    result = json.loads(result_file.read_text())
    failing = {part["name"] for part in result["parts"] if part["earned"] != part["points"]}
    partial = {part["name"] for part in result["parts"] if 0 < part["earned"] < part["points"]}
    want = expected_failing(lab, variant)
    problems = []
    if failing != want:
        problems.append(f"parts failing: {sorted(failing) or 'none'}, expected {sorted(want) or 'none'}")
    if partial:
        problems.append(f"parts with partial marks: {sorted(partial)}")
    for name in want & failing:
        if " ".join(lab.part(name).rule.split()) not in " ".join(result["report"].split()):
            problems.append(f"the report does not name the rule of {name}")
    if (run.returncode == 0) != (not failing):
        problems.append(f"exit status {run.returncode} does not match the score")
    if problems:
        problems.append("report:\n" + result["report"])
    else:
        shutil.rmtree(folder, ignore_errors=True)  # keep only what failed to prove, for reading
    return lab.chapter, variant, problems, seconds


def main(argv: list[str]) -> int:
    chapters = argv or labspec.chapters_with_labs()
    labs = [labspec.load(chapter) for chapter in chapters]
    shutil.rmtree(PROOFS, ignore_errors=True)
    PROOFS.mkdir(parents=True)
    jobs = [(lab, variant) for lab in labs for variant in variants(lab)]
    print(f"test-labs: {len(jobs)} gradings of {len(labs)} labs ({', '.join(chapters)})", flush=True)
    failed = 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for chapter, variant, problems, seconds in pool.map(lambda job: prove_one(*job), jobs):
            print(f"  {'ok  ' if not problems else 'FAIL'} {chapter:<22} {variant:<48} {seconds:5.1f} s", flush=True)
            for problem in problems:
                print("       " + problem.replace("\n", "\n       "))
            failed += bool(problems)
    chapters_without = [c for c in sorted(p.name for p in (REPO_ROOT / "chapters").iterdir() if p.is_dir())
                        if c not in chapters]
    print(f"test-labs: {len(jobs) - failed}/{len(jobs)} proven; chapters without a lab: "
          f"{', '.join(chapters_without) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
