"""Boot logs kept on disk, so that one ``make test`` boots each configuration once.

``make book`` boots every (chapter, command line, RAM size) the book quotes and
keeps the logs in ``build/book/logs`` (scripts/book/capture_logs.py). Some
tests boot exactly those configurations: one command line, otherwise the
default machine, nothing held, nothing changed on the disk. Where a test reads the finished machine
over the monitor, the book step takes the same readings after the kernel's
exit code (:mod:`harness.inspections`) and keeps them with the log.

``make test`` gives its book step and its pytest run one session id
(``BOOT_LOG_SESSION``); :func:`reuse` then hands a test the boot the book step
made in that same session, instead of booting the same thing again.

A log from an earlier session is never reused: a test run boots everything it
asserts on, except what this very run has booted already. Without a session
(plain ``pytest``) every boot is a boot.

Per boot, ``<name>.log`` holds our ``[LEVEL subsystem]`` lines, ``<name>.serial.log``
the whole serial output (escape codes removed) and ``<name>.json`` the outcome,
exit status, settings, session and monitor readings.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import re
from typing import Callable
from pathlib import Path

from .log import parse_records
from .paths import BUILD_DIR, OVMF_CODE, chapter_image
from .qemu import BootConfig, BootResult, monitor_name

SESSION_ENV = "BOOT_LOG_SESSION"
LOG_DIR = BUILD_DIR / "book" / "logs"


def session() -> str | None:
    return os.environ.get(SESSION_ENV) or None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]", "_", text)


def log_name(chapter: str, cmdline: str, memory: str = "") -> str:
    """File stem of a kept boot: ``01-boot``, ``01-boot+loader.dump-map``,
    ``04-page-tables@4G`` (the book's ``kernelbook.bootlogs.boot_log_name``,
    which a test holds equal)."""
    return chapter + (f"@{_safe(memory)}" if memory else "") + "".join("+" + _safe(word) for word in cmdline.split())


def book_memory(config: BootConfig) -> str:
    """The ``:memory:`` a page gives for this boot: "" for the default RAM."""
    return "" if config.memory == BootConfig(config.chapter).memory else config.memory


def _name(config: BootConfig) -> str:
    return log_name(config.chapter, config.cmdline or "", book_memory(config))


def _known_by_name(command) -> bool:
    """A kept reading is found by its name, so a function's reading only counts
    if it is one of the shared functions, whose names are unique."""
    return not callable(command) or getattr(command, "__module__", "") == "harness.inspections"


def shareable(config: BootConfig) -> bool:
    """A boot the book step may have made: an explicit command line, any RAM
    size (a page may give ``:memory:``) and every other setting at its default.
    Monitor readings are allowed (:func:`reuse` checks that the book step took
    them), functions only from harness.inspections."""
    default = BootConfig(config.chapter)
    # Every field but these must be the default's (a ramfb display is another machine).
    free = {"chapter", "cmdline", "memory", "monitor_commands", "timeout"}
    return (config.cmdline is not None
            and all(_known_by_name(command) for command in config.monitor_commands)
            and all(getattr(config, f.name) == getattr(default, f.name)
                    for f in dataclasses.fields(config) if f.name not in free))


def _fresh_meta(out: Path, config: BootConfig) -> dict | None:
    """The kept boot's ``.json`` if its logs exist, are newer than the chapter's
    disk image, came from this firmware and hold every monitor reading
    ``config`` takes; otherwise ``None``."""
    name = _name(config)
    log, serial, meta = out / f"{name}.log", out / f"{name}.serial.log", out / f"{name}.json"
    image = chapter_image(config.chapter)
    if not (log.is_file() and serial.is_file() and meta.is_file() and image.is_file()):
        return None
    kept = json.loads(meta.read_text(encoding="utf-8"))
    fresh = (log.stat().st_mtime > image.stat().st_mtime and kept.get("firmware") == str(OVMF_CODE)
             and all(monitor_name(command) in kept.get("monitor", {}) for command in config.monitor_commands))
    return kept if fresh else None


def is_fresh(out: Path, config: BootConfig) -> bool:
    """Kept logs of this boot exist, are newer than the chapter's disk image,
    came from this firmware and hold every monitor reading ``config`` takes."""
    return _fresh_meta(out, config) is not None


def save(out: Path, config: BootConfig, result: BootResult) -> Path:
    """Keep ``result`` under ``out``; returns the ``.log`` path."""
    name = _name(config)
    log, serial, meta = out / f"{name}.log", out / f"{name}.serial.log", out / f"{name}.json"
    serial.write_text(result.clean_log, encoding="utf-8")
    meta.write_text(json.dumps({
        "chapter": config.chapter, "cmdline": config.cmdline or "", "outcome": result.outcome,
        "exit_status": result.exit_status, "memory": config.memory, "cpu": config.cpu,
        "machine": config.machine, "firmware": str(OVMF_CODE), "elapsed": round(result.elapsed, 1),
        "session": session(), "monitor": result.monitor,
    }, indent=2) + "\n", encoding="utf-8")
    log.write_text("".join(f"{record}\n" for record in result.records), encoding="utf-8")  # last: it marks the set fresh
    return log


def reuse(config: BootConfig, out: Path = LOG_DIR) -> BootResult | None:
    """The boot of ``config`` kept in this session, or ``None`` when it must be booted."""
    current = session()
    if current is None or not shareable(config):
        return None
    meta = _fresh_meta(out, config)
    if meta is None or meta.get("session") != current:
        return None
    text = (out / f"{_name(config)}.serial.log").read_text(encoding="utf-8")
    readings = [monitor_name(command) for command in config.monitor_commands]
    return _kept_result(config, text, meta, {reading: meta["monitor"][reading] for reading in readings})


def _kept_result(config: BootConfig, serial_text: str, meta: dict, monitor: dict[str, str]) -> BootResult:
    """A kept boot read back: its serial output and what its ``.json`` says."""
    return BootResult(config=config, log=serial_text, records=parse_records(serial_text),
                      exit_status=meta["exit_status"], outcome=meta["outcome"], elapsed=meta["elapsed"],
                      monitor=monitor, stderr=meta.get("stderr", ""))


# ---------------------------------------------------------------------------
# Boots shared between test modules
# ---------------------------------------------------------------------------

#: Where one ``make test`` keeps the boots its test modules share
#: (``make test`` empties it first).
SHARED_DIR = BUILD_DIR / "test-boots"


def _shared_key(config: BootConfig) -> str | None:
    """A name for the machine and run ``config`` describes, or ``None`` for a
    boot that cannot be shared (under a debugger, held for a live monitor, or
    reading the machine with a function that is not one of harness.inspections').
    The monitor readings and the timeout are not part of it: a boot with
    readings has the plain boot's log (:mod:`harness.qemu`), and a boot that
    finished in time is the same boot under any longer timeout (:func:`shared`
    checks both)."""
    if config.gdb_port is not None or config.hold:
        return None
    if not all(_known_by_name(command) for command in config.monitor_commands):
        return None
    settings = {
        "chapter": config.chapter, "memory": config.memory, "smp": config.smp, "cpu": config.cpu,
        # No command line keeps the image's cmdline.txt, which `make` leaves empty.
        "machine": config.machine, "cmdline": config.cmdline or "", "extra": list(config.extra_args),
        "esp": {name: None if data is None else hashlib.sha1(bytes(data)).hexdigest()
                for name, data in sorted(config.esp_files.items())},
        "image-mtime": chapter_image(config.chapter).stat().st_mtime,
    }
    # Every other field too (the display device, and whatever BootConfig gains
    # later): two boots that differ in any setting must never share a result.
    special = {"chapter", "memory", "smp", "cpu", "machine", "cmdline", "extra_args", "timeout", "esp_files",
               "monitor_commands", "gdb_port", "hold"}
    settings.update({f.name: repr(getattr(config, f.name)) for f in dataclasses.fields(config) if f.name not in special})
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def _serves(kept: dict, config: BootConfig) -> bool:
    """Does a kept boot answer ``config``: every reading it asks for taken, and
    finished within its timeout?"""
    return (all(monitor_name(command) in kept["monitor"] for command in config.monitor_commands)
            and kept["elapsed"] <= config.timeout)


def shared(config: BootConfig, boot: Callable[[], BootResult]) -> BootResult:
    """``boot()``, unless a test module of this ``make test`` booted the same
    machine with the same command line and disk already, reading at least the
    monitor readings ``config`` asks for: then that result, with just those
    readings. Two modules asking at once share one boot (a lock per
    configuration). Without a session, a boot."""
    current, key = session(), _shared_key(config)
    if current is None or key is None:
        return boot()
    folder = SHARED_DIR / _safe(current)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept_boots = sorted(folder.glob(f"{key}.*.json"))
        for meta in kept_boots:
            kept = json.loads(meta.read_text(encoding="utf-8"))
            if _serves(kept, config):
                text = meta.with_suffix(".serial.log").read_text(encoding="utf-8")
                readings = {monitor_name(command): kept["monitor"][monitor_name(command)]
                            for command in config.monitor_commands}
                return _kept_result(config, text, kept, readings)
        result = boot()
        if result.outcome not in ("success", "failure"):
            return result  # a timeout or a QEMU error is this boot's, not every module's
        meta = folder / f"{key}.{len(kept_boots)}.json"
        meta.with_suffix(".serial.log").write_text(result.log, encoding="utf-8")
        meta.write_text(json.dumps({"exit_status": result.exit_status, "outcome": result.outcome,
                                    "elapsed": result.elapsed, "monitor": result.monitor,
                                    "stderr": result.stderr}) + "\n", encoding="utf-8")
        return result
