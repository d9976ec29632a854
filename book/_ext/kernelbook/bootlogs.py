"""Which boots the book quotes, and where their logs are kept.

Shared by the directives that read a boot (``{bootlog}``, ``{address-space}``,
``{page-walk}``) and scripts/book/capture_logs.py, so the boots captured are
exactly the boots the pages name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

#: Directives whose first argument is a chapter whose boot they read.
LOG_DIRECTIVES = ("bootlog", "address-space", "page-walk")
_DIRECTIVE_RE = re.compile(r"^[ \t]*(?:`{3,}|:{3,})\{(" + "|".join(map(re.escape, LOG_DIRECTIVES)) + r")\}[ \t]+(\S+)[ \t]*\n((?:[ \t]*:[\w-]+:.*\n)*)", re.M)
_OPTION_RE = re.compile(r"^[ \t]*:([\w-]+):[ \t]*(.*)$", re.M)


class Boot(NamedTuple):
    """One boot a page quotes: ``:cmdline:`` and ``:memory:`` ("" for the
    default machine's RAM, ``make run``'s) as the directive gives them."""

    chapter: str
    cmdline: str = ""
    memory: str = ""


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]", "_", text)


def boot_log_name(chapter: str, cmdline: str, memory: str = "") -> str:
    """File stem of a captured boot: ``01-boot``, ``01-boot+loader.dump-map``,
    ``04-page-tables@4G``."""
    return chapter + (f"@{_safe(memory)}" if memory else "") + "".join("+" + _safe(word) for word in cmdline.split())


def make_run_command(chapter: str, cmdline: str, memory: str = "") -> str:
    """How a reader makes the same boot: ``make run CH=04-page-tables MEM=4G``."""
    return f"make run CH={chapter}" + (f" MEM={memory}" if memory else "") + (f" CMDLINE={cmdline}" if cmdline else "")


def boots_in_text(text: str, kinds: tuple[str, ...] = LOG_DIRECTIVES) -> list[Boot]:
    """Every boot a directive in a Markdown text reads (of the directives
    named in ``kinds``: all of them by default)."""
    found = []
    for match in _DIRECTIVE_RE.finditer(text):
        if match[1] in kinds:
            options = dict(_OPTION_RE.findall(match[3]))
            found.append(Boot(match[2], " ".join(options.get("cmdline", "").split()), options.get("memory", "").strip()))
    return found


def boots_in_files(paths: list[Path]) -> list[Boot]:
    boots: dict[Boot, None] = {}
    for path in paths:
        files = sorted(path.rglob("*.md")) if path.is_dir() else [path]
        for file in files:
            for boot in boots_in_text(file.read_text(encoding="utf-8")):
                boots[boot] = None
    return list(boots)
