"""A lab workspace: a copy of the tree in which a chapter's lab regions hold the reader's code.

``labs/NN-name/`` (ignored by git) is a copy of the repository's sources. In
it, each lab file has its ``lab:begin``/``lab:end`` regions replaced by the
skeletons of ``chapters/NN-name/lab.toml`` (or by the reference, or by the
reference with one planted bug, for the proofs of ``make test-labs``). The
reader edits only the lab files; every other file is put back to the
reference's before each grade, so the grader's own tests cannot drift.

Building it reuses the reference build: every object of ``build/`` whose
sources the workspace has unchanged is symlinked into the workspace's
``build/`` (the copies keep the reference's timestamps, so ``make`` sees them
current), and ``make`` compiles only what depends on a lab file. An object
whose sources changed is never a symlink, so nothing is ever written into the
reference's build.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

from labspec import REPO_ROOT, Lab, LabError, replace_region, with_bug

#: Sources not needed to build or test a chapter.
SKIPPED_TOP = ("book/", "labs/")

#: Outputs the workspace builds itself; everything else the reference built is reused.
REBUILT = {"kernel.elf", "disk.img", "host_tests", "lab_tests"}


def source_files(root: Path = REPO_ROOT) -> list[str]:
    """The repository's files (tracked and new, not ignored), repository-relative."""
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "-z"],
                            check=True, capture_output=True).stdout.decode().split("\0")
    return sorted(name for name in listed if name and not name.startswith(SKIPPED_TOP)
                  and (root / name).is_file())


def lab_text(lab: Lab, path: str, variant: str, root: Path = REPO_ROOT) -> str:
    """The text of lab file ``path`` for ``variant``: ``skeleton``, ``solution`` or ``bug:PART:BUG``."""
    text = (root / path).read_text(encoding="utf-8")
    if variant == "solution":
        return text
    if variant == "skeleton":
        for part in lab.parts:
            if part.file == path:
                text = replace_region(text, part.name, part.skeleton, path)
        return text
    kind, part_name, bug_name = (variant.split(":") + ["", ""])[:3]
    if kind != "bug":
        raise LabError(f"unknown variant {variant!r}: skeleton, solution or bug:PART:BUG")
    part = lab.part(part_name)
    bugs = [bug for bug in part.bugs if bug.name == bug_name]
    if not bugs:
        raise LabError(f"part {part_name} has no bug {bug_name!r}")
    return with_bug(text, part, bugs[0], path) if part.file == path else text


def create(lab: Lab, workspace: Path, variant: str) -> None:
    """A new workspace for ``lab``; ``workspace`` must not exist."""
    if workspace.exists():
        raise LabError(f"{workspace} exists")
    texts = {path: lab_text(lab, path, variant) for path in lab.files()}  # fails before anything is written
    for name in source_files():
        target = workspace / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    for path, text in texts.items():
        if text != (REPO_ROOT / path).read_text(encoding="utf-8"):
            (workspace / path).write_text(text, encoding="utf-8")


def _same(a: Path, b: Path) -> bool:
    return a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)


def refresh(lab: Lab, workspace: Path) -> tuple[set[str], set[str]]:
    """Put every non-lab file back to the reference's; return (lab files, restored files).

    A non-lab file with the reference's content gets the reference's
    timestamp, so the reference's objects stay current for it.
    """
    changed, restored = set(), set()
    for name in source_files():
        source, copy = REPO_ROOT / name, workspace / name
        if name in lab.files():
            # Always the reader's, whatever it holds: its objects are never the
            # reference's, and its timestamp is left to make.
            if not copy.is_file():
                raise LabError(f"{copy} is missing: it is where you write the lab (make lab CH={lab.chapter} FRESH=1 starts over)")
            changed.add(name)
        elif _same(source, copy):
            stat = source.stat()
            os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
            restored.add(name)
    return changed, restored


def _dependencies(depfile: Path) -> set[str]:
    """The prerequisites of the first rule of a gcc -MMD file (paths as written)."""
    try:
        text = depfile.read_text().replace("\\\n", " ")
    except FileNotFoundError:
        return set()
    first = text.split("\n", 1)[0]
    return set(first.split(":", 1)[1].split()) if ":" in first else set()


def seed_build(chapter: str, workspace: Path, changed: set[str], restored: set[str]) -> None:
    """Symlink each reference object none of whose sources changed; copy the small outputs."""
    reference = REPO_ROOT / "build"
    folders = ["common", "loader", chapter, "host/common", "host/tests", "host/pch", "firmware"]
    for folder in folders:
        base = reference / folder
        if not base.is_dir():
            continue
        for source in sorted(p for p in base.rglob("*") if p.is_file() and not p.is_symlink()):
            rel = source.relative_to(REPO_ROOT)
            target = workspace / rel
            if source.name in REBUILT or "esp" in rel.parts:
                continue
            if source.suffix == ".o":
                deps = _dependencies(Path(str(source)[:-2] + ".d"))
                if target.is_symlink():
                    if deps & changed:
                        target.unlink()
                elif target.exists():
                    if deps & restored:
                        target.unlink()  # built from a file the reader had changed and is now put back
                elif not deps & changed:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.symlink_to(source)
            elif source.suffix == ".gch":
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.symlink_to(source)
            elif not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)


def build(lab: Lab, workspace: Path) -> subprocess.CompletedProcess:
    """``make`` in the workspace: the lab's host-test binary and the chapter's image."""
    command = ["make", "-C", str(workspace), "--no-print-directory",
               f"LAB_HOST_TESTS={' '.join(lab.host_tests)}", "build/host/lab_tests", f"build/{lab.chapter}/disk.img"]
    return subprocess.run(command, capture_output=True, text=True)
