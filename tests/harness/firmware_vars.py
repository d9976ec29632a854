"""The UEFI variable store every boot starts from: one that has booted once.

Debian's ``OVMF_VARS.fd`` is an empty store. On a first boot OVMF fills it:
boot options for every disk it finds, the console and language variables.
Each of those writes goes to emulated flash, command by command, and under
TCG that costs about 0.45 s of a 4 s boot. A real machine keeps its NVRAM
from one boot to the next, so the harness does too: the first boot that needs
the store boots the loader on the empty one and keeps what the firmware wrote
(``build/firmware/<machine>/OVMF_VARS.fd``); every run then starts from a
private copy of that. The filling boot uses the image of whichever chapter is
about to boot, without its ``kernel.elf``: the firmware has written its
variables before it starts the loader, and the loader then stops at once with
its named "cannot read kernel" error. So the store needs no other chapter
built (a fresh clone's ``make run`` builds only the chapter it boots), and it
does not depend on whether the reader's kernel works. There is one store per machine type: the boot options
name the disk by its path (an AHCI port on ``q35``, an IDE channel on ``pc``),
and a store filled on the other type sends the firmware to its shell.
Measured side by side (median of 6 interleaved boots): 3.93 s on the empty
store, 3.47 s on the kept one.

The kept store is made again when the firmware files change (a stamp next to
it names them). Several test processes may ask at once: a lock lets one boot
while the others wait for its result.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path

from . import paths

#: Bump when the QEMU machine changes in a way the firmware records in its
#: variables (its devices, hence its boot options): the kept store is remade.
MACHINE_DEVICES = "nodefaults+vga+disk"


def machine_type(machine: str) -> str:
    """``"q35,hpet=off"`` -> ``"q35"``: the options do not move the disk."""
    return machine.split(",")[0]


def _store_dir(machine: str, disk_bus: str) -> Path:
    # The boot option names the disk by its path too: a USB stick is another store.
    return paths.BUILD_DIR / "firmware" / (machine_type(machine) + ("" if disk_bus == "ide" else f"-{disk_bus}"))


def _stamp() -> dict:
    """What the kept store was made from: if any of it changes, it is made again."""
    return {
        "code": str(paths.OVMF_CODE), "code-mtime": paths.OVMF_CODE.stat().st_mtime,
        "vars": str(paths.OVMF_VARS), "vars-mtime": paths.OVMF_VARS.stat().st_mtime,
        "devices": MACHINE_DEVICES,
    }


def seasoned_vars(machine: str, chapter: str, disk_bus: str = "ide") -> Path:
    """The variable store a run on ``machine`` copies: made on first use (with
    ``chapter``'s built image), then reused by every chapter."""
    folder = _store_dir(machine, disk_bus)
    store, stamp_file = folder / "OVMF_VARS.fd", folder / "OVMF_VARS.json"
    stamp = _stamp()

    def current() -> bool:
        try:
            return store.is_file() and json.loads(stamp_file.read_text()) == stamp
        except (OSError, ValueError):
            return False

    if current():
        return store
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "OVMF_VARS.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be making it right now
        if not current():
            _season(store, machine_type(machine), chapter, disk_bus)
            stamp_file.write_text(json.dumps(stamp, indent=2) + "\n")
    return store


def _season(store: Path, machine: str, chapter: str, disk_bus: str) -> None:
    """Boot the loader of ``chapter``'s image, without a kernel, on ``machine``
    and the empty store; keep the store it leaves."""
    from .qemu import BootConfig, HarnessError, boot_from_vars  # qemu imports this module

    config = BootConfig(chapter, machine=machine, cmdline="", esp_files={"kernel.elf": None}, disk_bus=disk_bus)
    print(f"harness: one boot of the loader on {machine} to fill the UEFI variable store "
          f"{store.relative_to(paths.REPO_ROOT) if store.is_relative_to(paths.REPO_ROOT) else store}",
          file=sys.stderr, flush=True)
    partial = store.with_suffix(".partial")
    result = boot_from_vars(config, paths.OVMF_VARS, vars_out=partial)
    # The loader's own refusal, by name: anything else means the firmware did
    # not get as far as starting it, so the store may be half written.
    if result.outcome != "failure" or result.record("loader", "cannot read kernel") is None:
        raise HarnessError("the boot that fills the UEFI variable store did not reach the loader\n"
                           + result.describe())
    os.replace(partial, store)  # whole or not at all, for the processes that read it next
