"""Where things live: the repository, the build tree, the chapters and OVMF.

Every other harness module asks this one for paths, so the layout of the
repository is described in exactly one place:

* ``chapters/NN-name/``           one folder per tutorial chapter
* ``build/<chapter>/disk.img``    raw FAT image (no partition table) made by ``make``
* ``build/<chapter>/kernel.elf``  the kernel with symbols, for gdb and tests
* ``common/include/boot/exit_codes.h``  exit codes shared with the C++ side

OVMF (the UEFI firmware for QEMU) comes from Debian's ``ovmf`` package. The
environment variables ``OVMF_CODE`` and ``OVMF_VARS`` may point elsewhere on
systems that install it in another place, or at the package's 4 MiB build
(``OVMF_CODE_4M.fd`` with ``OVMF_VARS_4M.fd``), which also boots every chapter.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: Root of the git checkout (this file is tests/harness/paths.py).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Folder holding the chapter sources.
CHAPTERS_DIR = REPO_ROOT / "chapters"

#: Everything ``make`` produces lives below this folder.
BUILD_DIR = REPO_ROOT / "build"

#: Header that defines the isa-debug-exit port and the success/failure codes.
EXIT_CODES_HEADER = REPO_ROOT / "common" / "include" / "boot" / "exit_codes.h"

#: Firmware code. QEMU maps it read-only, so all runs can share the one file.
#: The package's 2 MiB build, not the 4 MiB one: it carries fewer drivers
#: (1.9 MB of firmware against 3.6 MB), and under TCG, where every firmware
#: instruction is translated first, it reaches our loader about a fifth sooner
#: (0.7 s; measured side by side, CPU time, median of 8 boots each).
OVMF_CODE = Path(os.environ.get("OVMF_CODE", "/usr/share/OVMF/OVMF_CODE.fd"))

#: Pristine UEFI variable store, the one made for OVMF_CODE. Firmware writes to
#: its variable store (boot entries, for example), so every run gets its own copy.
OVMF_VARS = Path(os.environ.get("OVMF_VARS", "/usr/share/OVMF/OVMF_VARS.fd"))

# A chapter folder is two digits, a dash, and a name: "01-boot".
_CHAPTER_RE = re.compile(r"^\d{2}-[A-Za-z0-9_.-]+$")


def chapters() -> list[str]:
    """Return the chapter names (``"01-boot"``, ...) in tutorial order.

    The two-digit prefix makes plain string sorting the tutorial order.
    """
    if not CHAPTERS_DIR.is_dir():
        return []
    return sorted(
        entry.name
        for entry in CHAPTERS_DIR.iterdir()
        if entry.is_dir() and _CHAPTER_RE.match(entry.name)
    )


def newest_chapter() -> str:
    """Return the last chapter in tutorial order (what ``make run`` boots)."""
    found = chapters()
    if not found:
        raise FileNotFoundError(f"no chapter folders (NN-name) found in {CHAPTERS_DIR}")
    return found[-1]


def resolve_chapter(name: str) -> str:
    """Turn a user-supplied chapter name into a full chapter name.

    Accepts the full name (``"01-boot"``), a unique prefix (``"01"``) or a
    path such as ``"chapters/01-boot/"``, so command lines stay short.
    """
    name = Path(name.rstrip("/")).name
    known = chapters()
    if name in known:
        return name
    matches = [chapter for chapter in known if chapter.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(f"unknown chapter {name!r}; known chapters: {', '.join(known) or 'none'}")
    raise ValueError(f"chapter {name!r} is ambiguous: {', '.join(matches)}")


def chapter_build_dir(chapter: str) -> Path:
    """``build/<chapter>/``: where ``make`` puts a chapter's outputs."""
    return BUILD_DIR / chapter


def chapter_image(chapter: str) -> Path:
    """``build/<chapter>/disk.img``: the FAT image QEMU boots from."""
    return chapter_build_dir(chapter) / "disk.img"


def chapter_kernel(chapter: str) -> Path:
    """``build/<chapter>/kernel.elf``: the kernel ELF with symbols."""
    return chapter_build_dir(chapter) / "kernel.elf"


def chapter_variables(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> dict[str, list[str]]:
    """The ``CHAPTER_*`` variables a chapter's ``chapter.mk`` sets (``:=`` and
    ``+=``), as word lists; empty for a folder without one. The one reader of
    chapter.mk in Python: the harness, make check and the book use it."""
    mk = chapters_dir / chapter / "chapter.mk"
    if not mk.is_file():
        return {}
    text = mk.read_text(encoding="utf-8").replace("\\\n", " ")
    variables: dict[str, list[str]] = {}
    for m in re.finditer(r"^\s*(CHAPTER_\w+)\s*(:?=|\+=)\s*(.*)$", text, re.M):
        words = m[3].split("#")[0].split()
        variables[m[1]] = variables.get(m[1], []) + words if m[2] == "+=" else words
    return variables


def chapter_lineage(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> list[str]:
    """The chapter and the ones it builds on (``CHAPTER_BASE``), newest first."""
    chain = [chapter]
    while base := chapter_variables(chain[-1], chapters_dir).get("CHAPTER_BASE"):
        chain.append(base[0])
    return chain


def chapter_modules(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> list[str]:
    """Every common/mm module the chapter's kernel links, oldest first, as
    mk/kernel.mk derives them: each link's ``CHAPTER_NEW_MODULES``."""
    return [module for link in reversed(chapter_lineage(chapter, chapters_dir))
            for module in chapter_variables(link, chapters_dir).get("CHAPTER_NEW_MODULES", [])]


def chapter_runtime_modules(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> list[str]:
    """The common/kernel modules the chapter's lineage adds to the base
    runtime (each link's ``CHAPTER_NEW_RUNTIME``), oldest first."""
    return [module for link in reversed(chapter_lineage(chapter, chapters_dir))
            for module in chapter_variables(link, chapters_dir).get("CHAPTER_NEW_RUNTIME", [])]


def runtime_base(chapters_dir: Path = CHAPTERS_DIR) -> list[Path]:
    """The common/kernel sources (.cpp and .S) every chapter links, as
    mk/kernel.mk picks them: all but the modules a chapter declares."""
    declared = {module for mk in chapters_dir.glob("*/chapter.mk")
                for module in chapter_variables(mk.parent.name, chapters_dir).get("CHAPTER_NEW_RUNTIME", [])}
    runtime = chapters_dir.parent / "common" / "kernel"
    return sorted(p for p in [*runtime.glob("*.cpp"), *runtime.glob("*.S")] if p.stem not in declared)


def chapter_sources(chapter: str) -> list[Path]:
    """The C++ files the chapter's kernel is built from: its folder, the
    common/mm modules of its lineage, and the kernel runtime (the base set
    and its lineage's runtime modules)."""
    runtime = REPO_ROOT / "common" / "kernel"
    return (sorted((CHAPTERS_DIR / chapter).glob("*.cpp")) + [p for p in runtime_base() if p.suffix == ".cpp"]
            + [runtime / f"{module}.cpp" for module in chapter_runtime_modules(chapter)]
            + [REPO_ROOT / "common" / "mm" / f"{module}.cpp" for module in chapter_modules(chapter)])


def environment_outside_make(**extra: str) -> dict[str, str]:
    """This process's environment as a reader's shell has it: none of an outer
    make's jobserver, flags or command-line variables (a test or a benchmark
    that runs `make` may itself run under `make test` or `make bench`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "CMDLINE")}
    env.update(extra)
    return env
