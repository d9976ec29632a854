"""The GDB command script for a chapter: used by ``make debug`` and by its test.

The kernel is linked at its run address (0xffffffff80001000 and up), so its
symbols load as they are, with no offset. A *hardware* breakpoint is used on
``kernel_main`` because a software one would be written into memory before
the loader has even copied the kernel there; a temporary one, gone once hit.

The script sources ``scripts/gdb/kgdb.py``: the commands ``kpt``, ``kmemmap``,
``klayout`` and ``kloader`` (book/reference/debugging.md).

With ``loader_image_base`` (``make debug LOADER=1``: the base a first boot
logged), the script loads the loader's symbols there before anything runs and
stops at ``efi_main`` first. OVMF loads BOOTX64.EFI at the same address on
every boot of one build with one QEMU configuration, which is what makes this
work; a hardware breakpoint on ``kernel_main`` stays as a safety net.
"""

from __future__ import annotations

import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import paths

GDB_HELPERS = paths.REPO_ROOT / "scripts" / "gdb" / "kgdb.py"


def gdb_script(chapter: str, port: int, then: list[str] | None = None,
               loader_image_base: int | None = None) -> str:
    """Commands that load the kernel's symbols and the helpers, attach to
    QEMU's stub on ``port``, and run to ``kernel_main`` (or first to
    ``efi_main``, given the loader's image base); then the commands in ``then``."""
    kernel = paths.chapter_kernel(chapter)
    lines = [
        "set pagination off",
        "set confirm off",
        # QEMU starts in 16-bit real mode; the kernel is 64-bit code throughout.
        "set architecture i386:x86-64",
        f"directory {paths.REPO_ROOT}",
        f"source {GDB_HELPERS}",
        f"file {kernel}",
        f"target remote 127.0.0.1:{port}",
    ]
    if loader_image_base is not None:
        lines += [
            f"set $loader_image_base = {loader_image_base:#x}",
            "kloader",
            "hbreak efi_main",
        ]
    lines += [
        # Temporary: once the kernel is reached it is gone, so no later
        # `continue` can stop on it again (resuming from a hardware
        # breakpoint's own address under QEMU's stub once re-reported it).
        "thbreak kernel_main",
        "continue",
    ]
    lines += then or []
    return "\n".join(lines) + "\n"


def write_gdb_script(chapter: str, port: int, destination: Path) -> Path:
    destination.write_text(gdb_script(chapter, port))
    return destination


def output_sections(output: str) -> dict[str, str]:
    """GDB's output cut at each ``echo @@marker\\n`` a script printed: marker ->
    the output of the commands after it."""
    sections: dict[str, str] = {}
    for chunk in output.split("@@")[1:]:
        name, _, text = chunk.partition("\n")
        sections[name.strip()] = text
    return sections


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_listener(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"QEMU's gdb stub never listened on port {port}")


def boot_under_gdb(folder: Path, chapter: str, cmdline: str, then: list[str],
                   loader_image_base: int | None = None, **machine):
    """Boot ``chapter`` paused and run GDB in batch mode on the `make debug`
    script plus ``then``; return (the boot's result, GDB's stdout + stderr).
    ``machine`` holds further :class:`harness.BootConfig` fields (memory, cpu)."""
    from .qemu import BootConfig, boot  # qemu does not need this module

    port = free_port()
    script = folder / f"debug-{port}.gdb"
    script.write_text(gdb_script(chapter, port, then=then, loader_image_base=loader_image_base))
    config = BootConfig(chapter, cmdline=cmdline, gdb_port=port, timeout=90, **machine)
    with ThreadPoolExecutor(1) as pool:
        booting = pool.submit(boot, config)
        wait_for_listener(port)
        # One pipe for both: `monitor` output (QEMU's info tlb) arrives on stderr.
        gdb = subprocess.run(["gdb", "-batch", "-nx", "-x", str(script)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, errors="replace", timeout=90)
        result = booting.result()
    return result, gdb.stdout
