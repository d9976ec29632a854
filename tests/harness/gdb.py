"""The GDB command script for a chapter: used by ``make debug`` and by its test.

The kernel is linked at its run address (0xffffffff80001000 and up), so its
symbols load as they are, with no offset. A *hardware* breakpoint is used on
``kernel_main`` because a software one would be written into memory before
the loader has even copied the kernel there.
"""

from __future__ import annotations

from pathlib import Path

from . import paths


def gdb_script(chapter: str, port: int, then: list[str] | None = None) -> str:
    """Commands that load the kernel's symbols, attach to QEMU's stub on
    ``port``, and run to ``kernel_main``; then the commands in ``then``."""
    kernel = paths.chapter_kernel(chapter)
    lines = [
        "set pagination off",
        "set confirm off",
        # QEMU starts in 16-bit real mode; the kernel is 64-bit code throughout.
        "set architecture i386:x86-64",
        f"directory {paths.REPO_ROOT}",
        f"file {kernel}",
        f"target remote 127.0.0.1:{port}",
        "hbreak kernel_main",
        "continue",
    ]
    lines += then or []
    return "\n".join(lines) + "\n"


def write_gdb_script(chapter: str, port: int, destination: Path) -> Path:
    destination.write_text(gdb_script(chapter, port))
    return destination
