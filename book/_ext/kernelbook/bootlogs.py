"""Which boots the book quotes, and where their logs are kept.

Shared by the directives that read a boot (``{bootlog}``, ``{address-space}``,
``{page-walk}``) and scripts/book/capture_logs.py, so the boots captured are
exactly the boots the pages name.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Directives whose first argument is a chapter whose boot they read.
LOG_DIRECTIVES = ("bootlog", "address-space", "page-walk")
_DIRECTIVE_RE = re.compile(r"^[ \t]*(?:`{3,}|:{3,})\{(" + "|".join(map(re.escape, LOG_DIRECTIVES)) + r")\}[ \t]+(\S+)[ \t]*\n((?:[ \t]*:[\w-]+:.*\n)*)", re.M)
_OPTION_RE = re.compile(r"^[ \t]*:([\w-]+):[ \t]*(.*)$", re.M)


def boot_log_name(chapter: str, cmdline: str) -> str:
    """File stem of a captured boot: ``01-boot`` or ``01-boot+loader.dump-map``."""
    return chapter + "".join("+" + re.sub(r"[^A-Za-z0-9._=-]", "_", word) for word in cmdline.split())


def boots_in_text(text: str, kinds: tuple[str, ...] = LOG_DIRECTIVES) -> list[tuple[str, str]]:
    """``(chapter, cmdline)`` of every directive in a Markdown text that reads a
    boot (of the directives named in ``kinds``: all of them by default)."""
    found = []
    for match in _DIRECTIVE_RE.finditer(text):
        if match[1] in kinds:
            options = dict(_OPTION_RE.findall(match[3]))
            found.append((match[2], " ".join(options.get("cmdline", "").split())))
    return found


def boots_in_files(paths: list[Path]) -> list[tuple[str, str]]:
    boots: dict[tuple[str, str], None] = {}
    for path in paths:
        files = sorted(path.rglob("*.md")) if path.is_dir() else [path]
        for file in files:
            for boot in boots_in_text(file.read_text(encoding="utf-8")):
                boots[boot] = None
    return list(boots)
