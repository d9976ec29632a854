"""The libFuzzer targets (tests/fuzz/): replay every committed input, then fuzz
each target from its seed corpus for a fixed number of inputs, with a fixed
seed, about a second each.

The short run catches what a change broke near the seeds, and a failure
reproduces with the same command; `make fuzz` runs longer, for time. New inputs go to a temporary corpus, so the committed seeds never
change behind anyone's back.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import harness

FUZZ_DIR = harness.REPO_ROOT / "tests" / "fuzz"
BUILD_DIR = harness.REPO_ROOT / "build" / "fuzz"
TARGETS = ["elf_image", "memory_map", "page_table", "acpi_tables", "address_space_audit", "steady_state", "user_elf", "user_regions", "copy_on_write"]
#: Inputs per short run: about a second each on our machines. The targets
#: differ a thousandfold in speed (page_table builds whole address spaces).
RUNS = {"elf_image": 100_000, "memory_map": 1_500, "page_table": 60, "acpi_tables": 50_000,
        "address_space_audit": 250, "steady_state": 400, "user_elf": 100_000,
        "user_regions": 20_000, "copy_on_write": 200}
SEED = 1


def binary(target: str) -> Path:
    path = BUILD_DIR / f"{target}_fuzz"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make fuzz-targets` (make test builds it)", pytrace=False)
    return path


def committed_inputs(target: str) -> list[Path]:
    inputs = []
    for folder in (FUZZ_DIR / "corpus" / target, FUZZ_DIR / "regressions" / target):
        if folder.is_dir():
            inputs += sorted(p for p in folder.iterdir() if p.is_file())
    return inputs


def run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("target", TARGETS)
class TestFuzzTarget:
    def test_committed_inputs_pass(self, target):
        inputs = committed_inputs(target)
        assert inputs, f"no seeds for {target}: run `make fuzz-seeds`"
        result = run([str(binary(target)), *map(str, inputs)], timeout=60)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"Executed {inputs[-1]}" in result.stderr

    def test_short_fuzz_run_finds_nothing(self, target, tmp_path):
        corpus = tmp_path / "corpus"
        shutil.copytree(FUZZ_DIR / "corpus" / target, corpus)
        result = run(
            [str(binary(target)), f"-runs={RUNS[target]}", f"-seed={SEED}", "-print_final_stats=1",
             f"-artifact_prefix={tmp_path}/", str(corpus)],
            timeout=120,
        )
        crashes = [p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "leak-", "timeout-", "oom-"))]
        assert result.returncode == 0 and not crashes, f"{crashes}\n{result.stderr[-3000:]}"
        executed = [line for line in result.stderr.splitlines() if line.startswith("stat::number_of_executed_units")]
        assert executed and int(executed[0].split(":")[-1]) == RUNS[target], "the fuzzer stopped early"
