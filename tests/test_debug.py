"""`make debug`: GDB attaches to QEMU's stub, stops at kernel_main with a real
backtrace, and the kernel then runs to completion under the debugger.

Uses the same command script that `make debug` generates (harness.gdb)."""

from __future__ import annotations

import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import harness
from harness.gdb import gdb_script

CHAPTER = "01-boot"


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


def test_gdb_stops_at_kernel_main_with_a_backtrace(built, tmp_path):
    port = free_port()
    script = tmp_path / "debug.gdb"
    script.write_text(gdb_script(CHAPTER, port, then=["bt", "print/x $rip", "continue"]))
    with ThreadPoolExecutor(1) as pool:
        booting = pool.submit(harness.boot, harness.BootConfig(CHAPTER, gdb_port=port, timeout=90))
        wait_for_listener(port)
        gdb = subprocess.run(["gdb", "-batch", "-nx", "-x", str(script)], capture_output=True, text=True, timeout=90)
        result = booting.result()

    out = gdb.stdout
    assert "Breakpoint 1, kernel_main" in out, gdb.stdout + gdb.stderr
    assert "chapters/01-boot/kernel_main.cpp" in out  # source paths resolve
    backtrace = out[out.index("#0"):]
    assert "kernel_start" in backtrace.splitlines()[1]  # called from the runtime
    # $rip at the breakpoint is kernel_main's address in kernel.elf.
    symbols = subprocess.run(["nm", str(harness.chapter_kernel(CHAPTER))], capture_output=True, text=True).stdout
    kernel_main = next(int(line.split()[0], 16) for line in symbols.splitlines() if line.endswith(" _Z11kernel_mainRKN4boot11BootHandoffE"))
    assert f"0x{kernel_main:x}" in out
    # After `continue`, the kernel finishes normally under the debugger.
    harness.assert_outcome(result, "success")
