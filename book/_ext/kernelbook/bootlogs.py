"""Which boots the book quotes, and where their logs are kept.

Shared by the directives that read a boot (``{bootlog}``, ``{address-space}``,
``{page-walk}``, ``{process-space}``), the log markers of the running text (``<!-- log BOOT
PATTERN -->``, quotes.py) and scripts/book/capture_logs.py, so the boots
captured are exactly the boots the pages name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

#: Directives whose first argument is a chapter whose boot they read.
LOG_DIRECTIVES = ("bootlog", "address-space", "page-walk", "process-space")
_DIRECTIVE_RE = re.compile(r"^[ \t]*(?:`{3,}|:{3,})\{(" + "|".join(map(re.escape, LOG_DIRECTIVES)) + r")\}[ \t]+(\S+)[ \t]*\n((?:[ \t]*:[\w-]+:.*\n)*)", re.M)
_OPTION_RE = re.compile(r"^[ \t]*:([\w-]+):[ \t]*(.*)$", re.M)
# A value the running text takes from a boot (quotes.py says what it means).
# One line, and not at the start of one: a line that begins with "<!--" is an
# HTML block to Markdown, which would swallow the line and end the paragraph.
LOG_MARKER_RE = re.compile(
    r"<!--[ \t]+log(?::(?P<format>\w+))?[ \t]+(?P<boot>[^\s<>]+)[ \t]+(?P<pattern>[^\n]*?)[ \t]*-->"
    r"(?P<value>[^\n]*?)<!--[ \t]*/log[ \t]*-->")


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


def boot_from_name(name: str) -> Boot:
    """The boot a log's file stem names, as a log marker writes it: the
    inverse of :func:`boot_log_name` for command-line words without spaces."""
    match = re.fullmatch(r"([0-9]{2}-[A-Za-z0-9.-]+)(?:@([A-Za-z0-9.]+))?((?:\+[^+\s]+)*)", name)
    if not match:
        raise ValueError(f"{name!r} does not name a boot: CHAPTER[@MEMORY][+WORD...], as its log in build/book/logs")
    return Boot(match[1], " ".join(match[3].split("+")[1:]), match[2] or "")


def make_run_command(chapter: str, cmdline: str, memory: str = "") -> str:
    """How a reader makes the same boot: ``make run CH=04-page-tables MEM=4G``."""
    return f"make run CH={chapter}" + (f" MEM={memory}" if memory else "") + (f" CMDLINE={cmdline}" if cmdline else "")


def boots_in_text(text: str, kinds: tuple[str, ...] = LOG_DIRECTIVES) -> list[Boot]:
    """Every boot a directive in a Markdown text reads (of the directives
    named in ``kinds``: all of them by default, and then the log markers' too)."""
    found = []
    for match in _DIRECTIVE_RE.finditer(text):
        if match[1] in kinds:
            options = dict(_OPTION_RE.findall(match[3]))
            found.append(Boot(match[2], " ".join(options.get("cmdline", "").split()), options.get("memory", "").strip()))
    if kinds == LOG_DIRECTIVES:
        for match in LOG_MARKER_RE.finditer(text):
            try:
                found.append(boot_from_name(match["boot"]))
            except ValueError:
                pass  # quotes.log_markers names the mistake
    return found


def boots_in_files(paths: list[Path]) -> list[Boot]:
    boots: dict[Boot, None] = {}
    for path in paths:
        files = sorted(path.rglob("*.md")) if path.is_dir() else [path]
        for file in files:
            for boot in boots_in_text(file.read_text(encoding="utf-8")):
                boots[boot] = None
    return list(boots)
