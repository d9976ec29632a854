"""No chapter source carries an include it does not use (issue 20, item 4).

The rule, checked for every ``#include`` line of every chapters/*/*.cpp with
the kernel's own compile flags (make's ``CHAPTER_CXXFLAGS``), as a
syntax-only compile:

1. Remove the line. If the file no longer compiles, the include is needed.
2. If it still compiles, the header may be unused, or it may arrive through
   another header while the file does use it. So compile the file with that
   header *empty everywhere* (an empty file of the same path put first on
   the include path, or in place of a header beside the file): if that
   compiles, nothing the file compiles needs the header, and the include is
   dead. (Step 2 implies step 1, so only step 2 is compiled.)

A .cpp file's own header (stale_tlb.cpp's stale_tlb.h; kernel/kernel.h for
kernel_main.cpp) is never dead: it declares what the file defines, whether or
not the compile needs it. KEPT lists the few others kept, each with why.

A file's verdicts are kept in build/dead-includes/ under a digest of every
input of its compiles, so a run compiles again only the files whose source, a
header they reach, the flags or this test changed (``kept_verdicts``).

A file therefore includes what it uses even when another header brings it
(include what you use), and never a header nothing needs. What this cannot
see: a header the file does not use but another of its headers needs without
including it itself — that header is the one to fix, and it is not a chapter
file.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import harness

REPO = harness.REPO_ROOT
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


@dataclass(frozen=True)
class Include:
    file: Path   #: the chapter source, in the repository
    line: int    #: 1-based
    path: str    #: as written: "mm/boot_memory.h", "memory_manager.h", "stdint.h"

    def __str__(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}: #include {self.path}"


def compile_flags(repo: Path = REPO) -> list[str]:
    """The compiler and the flags make compiles chapter sources with."""
    out = subprocess.run(["make", "-pn", "help"], cwd=repo, capture_output=True, text=True,
                         env=harness.paths.environment_outside_make()).stdout
    cxx = re.search(r"^CXX :?= (.*)$", out, re.M)
    flags = re.search(r"^CHAPTER_CXXFLAGS := (.*)$", out, re.M)
    assert cxx and flags, "make -pn shows no CXX or CHAPTER_CXXFLAGS (mk/kernel.mk)"
    # Syntax only: no code, so no debug info either.
    return [cxx[1].strip(), *[f for f in flags[1].split() if f != "-g"], "-fsyntax-only"]


def includes_of(source: Path) -> list[Include]:
    return [Include(source, n, m[2]) for n, text in enumerate(source.read_text().splitlines(), 1)
            if (m := INCLUDE.match(text))]


def compiles(command: list[str], source: Path, cwd: Path) -> bool:
    return subprocess.run([*command, str(source)], cwd=cwd, capture_output=True).returncode == 0


def is_dead(include: Include, command: list[str], repo: Path = REPO) -> bool:
    """Compile the file with the header emptied everywhere (step 2 of the
    module docstring). Step 1 needs no compile of its own: a file that
    compiles with the header empty everywhere compiles without the line too.
    A header beside the file is emptied in a scratch copy of the folder, any
    other by an empty file of its path first on the include path."""
    with tempfile.TemporaryDirectory(prefix="dead-include-") as scratch:
        folder, source = include.file.parent, include.file
        if "/" not in include.path and (folder / include.path).is_file():
            copy = Path(scratch) / folder.name
            shutil.copytree(folder, copy)
            (copy / include.path).write_text("")
            return compiles(command, copy / include.file.name, repo)
        empty = Path(scratch) / include.path
        empty.parent.mkdir(parents=True, exist_ok=True)
        empty.write_text("")
        return compiles([command[0], f"-I{scratch}", *command[1:]], source, repo)


#: Includes kept although the compile does not need them, and why.
KEPT = {
    ("heap_stress.cpp", "new"): "std::align_val_t: GCC declares it without <new>, the standard does not",
}


def is_own_header(include: Include) -> bool:
    """The header that declares what the file defines: stale_tlb.cpp's
    stale_tlb.h, and kernel/kernel.h for kernel_main.cpp (it declares
    kernel_main, which the runtime calls)."""
    own = "kernel/kernel.h" if include.file.name == "kernel_main.cpp" else None
    return Path(include.path).stem == include.file.stem or include.path == own


def dead_includes(sources: list[Path], command: list[str], repo: Path = REPO) -> list[Include]:
    candidates = [include for source in sources for include in includes_of(source)
                  if not is_own_header(include) and (source.name, include.path) not in KEPT]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores, shared
        verdicts = list(pool.map(lambda include: is_dead(include, command, repo), candidates))
    return [include for include, dead in zip(candidates, verdicts) if dead]


@pytest.fixture(scope="module")
def command() -> list[str]:
    return compile_flags()


# ---- verdicts kept from run to run -------------------------------------------------
#
# A file's verdicts follow from what its compiles read, so they are kept per
# file (build/dead-includes/), under a digest of all of it: the compiler and its
# flags, and every file the preprocessor opens for it (g++ -M, run each time:
# a header added where it shadows another changes the list). A file none of
# whose inputs changed since the last run is not compiled again; any change
# to it, to a header it reaches or to this test recompiles it.

VERDICTS = harness.BUILD_DIR / "dead-includes"


def inputs_digest(source: Path, command: list[str], compiler_version: str) -> str:
    """What every compile of ``source`` depends on, as one digest."""
    listing = subprocess.run([*command[:-1], "-M", str(source)], cwd=REPO, capture_output=True, text=True)
    assert listing.returncode == 0, f"g++ -M {source.relative_to(REPO)}:\n{listing.stderr}"
    files = sorted({word for word in listing.stdout.replace("\\\n", " ").split()[1:]})
    digest = hashlib.sha1(json.dumps([command, compiler_version, str(source.relative_to(REPO))]).encode())
    digest.update(Path(__file__).read_bytes())
    for name in files:
        digest.update(name.encode() + b"\0" + hashlib.sha1((REPO / name).read_bytes()).digest())
    return digest.hexdigest()


def kept_verdicts(sources: list[Path], command: list[str]) -> tuple[list[Path], list[Include]]:
    """(files that do not compile as they are, dead includes), compiling only
    the files whose inputs changed since their verdicts were kept."""
    version = subprocess.run([command[0], "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = dict(zip(sources, pool.map(lambda source: inputs_digest(source, command, version), sources)))
    VERDICTS.mkdir(parents=True, exist_ok=True)

    def kept_file(source: Path) -> Path:
        return VERDICTS / (str(source.relative_to(REPO)).replace("/", "+") + ".json")

    def kept(source: Path) -> dict | None:
        try:
            verdict = json.loads(kept_file(source).read_text())
        except (OSError, ValueError):
            return None
        return verdict if verdict.get("inputs") == digests[source] else None

    stale = [source for source in sources if kept(source) is None]
    unbuildable = [source for source in stale if not compiles(command, source, REPO)]
    found = dead_includes([source for source in stale if source not in unbuildable], command)
    for source in stale:
        if source not in unbuildable:  # a file that does not compile is compiled again next time
            kept_file(source).write_text(json.dumps({"inputs": digests[source], "dead": [
                [include.line, include.path] for include in found if include.file == source]}) + "\n")
    dead = list(found)
    for source in sources:
        if source not in stale:
            dead += [Include(source, line, path) for line, path in kept(source)["dead"]]
    return unbuildable, dead


def test_no_chapter_source_has_a_dead_include(command):
    sources = sorted(REPO.glob("chapters/*/*.cpp"))
    assert sources
    unbuildable, dead = kept_verdicts(sources, command)
    assert not unbuildable, f"these do not compile as they are: {unbuildable}"
    assert not dead, "includes nothing in the file needs:\n" + "\n".join(map(str, dead))


def test_the_check_finds_a_planted_dead_include(command, tmp_path):
    """A copy of a chapter folder with one unused include added (and one
    include the file uses that also arrives through another header) must
    fail with the planted line, and only that line."""
    chapter = tmp_path / "chapters" / "05-paging"
    shutil.copytree(REPO / "chapters" / "05-paging", chapter)
    main = chapter / "kernel_main.cpp"
    text = main.read_text()
    planted = '#include "mm/fault_decode.h"\n'  # chapter 10's: nothing in chapter 05 uses it
    main.write_text(text.replace('#include "boot/handoff.h"\n', '#include "boot/handoff.h"\n' + planted, 1))
    planted_line = main.read_text().splitlines().index(planted.strip()) + 1
    # Compile from the repository, so its include roots (common/, chapters/) apply.
    found = dead_includes([main], command, REPO)
    assert [(f.line, f.path) for f in found] == [(planted_line, "mm/fault_decode.h")]
