"""What a page quotes from the code and from the boots, as plain text.

One answer to "what does this ``{excerpt}`` or ``{bootlog}`` block show" and
"what does this log marker stand for", used by three callers:

* the directives (``__init__.py``), which render it and warn when the README's
  inline copy differs from it;
* ``make sync-docs`` (scripts/book/sync_docs.py), which writes it into the
  README, so that the file reads without a build (on a repository host, in an
  editor's preview);
* tests/test_docs_sync.py, which fails when a committed copy is stale.

A block carries its copy as its body, after its options::

    ```{bootlog} 02-memory-map
    :cmdline: test.corrupt=overlap
    :match: ^\\[(WARN |ERROR)

    [ERROR memmap] handoff rejected rule=…
    ```

A number (or any value) the running text takes from a boot sits between two
HTML comments, which neither a repository host nor the book shows::

    <!-- log 02-memory-map+loader.dump-map totals .* ranges=(\\d+) -->28<!-- /log -->

``log`` names the boot by its log's file name in build/book/logs
(``CHAPTER[@MEMORY][+WORD…]``, :func:`bootlogs.boot_log_name`); then a regular
expression: its first match in the log, group 1 if it has one, is the value.
``log:MiB`` gives a size field (``33096KiB``) in whole MiB (``32 MiB``). A
value written in backticks stays in backticks.

Pure functions (no Sphinx), so the script and the tests call them directly.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import bootlogs, markers

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from harness.log import size_value  # noqa: E402  (sizes read as the tests read them)

# Fields whose values differ between two boots of the same image, compared as
# ``key=…`` (only the value is masked). Empty on purpose: every boot the book
# quotes (28 under TCG), captured twice and again after a full rebuild, gave
# byte-identical logs; the kernels read no clock and no random source. Add a
# field only after seeing it vary between two boots, and never a whole line.
VARYING_FIELDS: tuple[str, ...] = ()

QUOTING_DIRECTIVES = ("excerpt", "bootlog")
SYNC_HINT = "run make sync-docs"


class QuoteError(Exception):
    """What a block or marker quotes cannot be read (no such marker, boot or line)."""


# ---------------------------------------------------------------------------
# What a block shows
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Excerpt:
    code: str   #: dedented, marker lines left out
    first: int  #: line number of its first line in the file
    last: int


def excerpt(root: Path, scan: markers.MarkerScan, path: str, name: str) -> Excerpt:
    """The lines between ``book:begin NAME`` and ``book:end NAME`` of PATH."""
    region = scan.regions.get((path, name))
    if region is None:
        what = f"no book:begin {name} / book:end {name} pair in {path}" if (root / path).is_file() else f"no such file: {path}"
        raise QuoteError(what)
    code, first = markers.excerpt_lines((root / path).read_text(encoding="utf-8"), region)
    return Excerpt(code, first, first + code.count("\n"))


@dataclass(frozen=True)
class BootLog:
    path: Path
    lines: list[str]
    meta: dict = field(default_factory=dict)


def read_log(logs: Path, boot: bootlogs.Boot) -> tuple[Path, list[str], dict]:
    name = bootlogs.boot_log_name(*boot)
    log = logs / f"{name}.log"
    if not log.is_file():
        raise QuoteError(f"{log} was not captured (make book-logs captures every boot a page names)")
    meta = logs / f"{name}.json"
    return log, log.read_text(encoding="utf-8").splitlines(), json.loads(meta.read_text()) if meta.is_file() else {}


def bootlog(logs: Path, boot: bootlogs.Boot, match: str | None = None, limit: int | None = None) -> BootLog:
    """The lines of a captured boot a ``{bootlog}`` shows: those containing a
    match of ``match`` (all when None), at most ``limit``. None is an error."""
    log, lines, meta = read_log(logs, boot)
    if match:
        try:
            regex = re.compile(match)
        except re.error as error:
            raise QuoteError(f"bad :match: pattern {match!r}: {error}") from None
        lines = [line for line in lines if regex.search(line)]
    if not lines:
        raise QuoteError(f"no line of {log.name} matches {match!r}")
    return BootLog(log, lines[:limit] if limit else lines, meta)


# ---------------------------------------------------------------------------
# Comparing a copy with what it quotes
# ---------------------------------------------------------------------------


def _mask(line: str) -> str:
    if not VARYING_FIELDS:
        return line
    return re.sub(r"(?<![\w-])(" + "|".join(map(re.escape, VARYING_FIELDS)) + r")=\S+", r"\1=…", line)


def normal(lines: list[str]) -> list[str]:
    """The form a copy is written and compared in: no trailing blanks on a line
    (editors strip them), no blank lines at either end (MyST drops one)."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0]:
        lines = lines[1:]
    while lines and not lines[-1]:
        lines = lines[:-1]
    return lines


def difference(expected: list[str], copy: list[str], source: str) -> str | None:
    """Why ``copy`` is not ``expected`` (quoted from ``source``), or None."""
    want, have = normal(expected), normal(copy)
    if not have:
        return "has no inline copy"
    if [_mask(x) for x in want] == [_mask(x) for x in have]:
        return None
    for number, (a, b) in enumerate(zip(want, have), start=1):
        if _mask(a) != _mask(b):
            return f"inline copy is stale: its line {number} is {b!r}, {source} has {a!r}"
    if len(have) < len(want):
        return f"inline copy is stale: it ends after {len(have)} lines, {source} has {len(want)}"
    return f"inline copy is stale: it has {len(have)} lines, {source} only {len(want)}"


# ---------------------------------------------------------------------------
# Blocks in a Markdown file
# ---------------------------------------------------------------------------

_FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_QUOTE_INFO_RE = re.compile(r"^\{(" + "|".join(QUOTING_DIRECTIVES) + r")\}[ \t]+(.*?)[ \t]*$")


@dataclass
class Block:
    """An ``{excerpt}`` or ``{bootlog}`` fenced block of a Markdown file."""

    kind: str
    arguments: list[str]
    options: dict[str, str]
    line: int          #: 1-based line of the opening fence
    indent: str        #: the opening fence's indentation, which MyST removes from the body
    fence: str
    body_start: int    #: 0-based index of the first line after the options
    body_end: int      #: 0-based index of the closing fence
    body: list[str]    #: the inline copy, as MyST hands it to the directive

    def title(self) -> str:
        options = "".join(f" :{k}: {v}" for k, v in self.options.items())
        return f"{{{self.kind}}} {' '.join(self.arguments)}{options}"

    def boot(self) -> bootlogs.Boot:
        return bootlogs.Boot(self.arguments[0], " ".join(self.options.get("cmdline", "").split()),
                             self.options.get("memory", "").strip())


def _options(lines: list[str]) -> dict[str, str]:
    """``:key: value`` lines read as MyST reads them (YAML, then as text)."""
    import yaml

    try:
        values = yaml.safe_load("\n".join(line.lstrip()[1:] for line in lines)) or {}
    except yaml.YAMLError as error:
        raise QuoteError(f"options are not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise QuoteError(f"options are not `:key: value` lines: {values!r}")
    return {str(k): "" if v is None or v is True else str(v) for k, v in values.items()}


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)


def _strip_indent(line: str, indent: str) -> str:
    return line[len(indent):] if line.startswith(indent) else line.lstrip(" \t")


def fences(lines: list[str]):
    """(opening index, closing index, indent, fence, info) of each fenced
    block. ``:::`` fences hold Markdown (MyST's colon fences), so fences inside
    them count too; inside a backtick or tilde fence nothing does."""
    i = 0
    while i < len(lines):
        match = _FENCE_RE.match(lines[i])
        if not match or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], match["fence"])), len(lines))
        yield i, end, match["indent"], match["fence"], match["info"].strip()
        i = i + 1 if match["fence"][0] == ":" else end + 1


def blocks(text: str) -> list[Block]:
    """Every ``{excerpt}`` and ``{bootlog}`` block of a Markdown text."""
    lines = text.splitlines()
    found = []
    for start, end, indent, fence, info in fences(lines):
        quote = _QUOTE_INFO_RE.match(info)
        if not quote:
            continue
        content = [_strip_indent(line, indent) for line in lines[start + 1:end]]
        count = 0
        if content and content[0].lstrip().startswith(":"):
            while count < len(content) and content[count].lstrip().startswith(":"):
                count += 1
        try:
            options = _options(content[:count])
        except QuoteError as error:
            raise QuoteError(f"line {start + 1 + 1}: {error}") from None
        body = content[count:]
        found.append(Block(quote[1], quote[2].split(), options, start + 1, indent, fence,
                           start + 1 + count, end, body))
    return found


# ---------------------------------------------------------------------------
# Values the running text takes from a boot
# ---------------------------------------------------------------------------


def _mib(value: str) -> str:
    size = size_value(value)
    if size is None:
        raise QuoteError(f"log:MiB needs a size like 33096KiB, the log has {value!r}")
    return f"{round(size / (1 << 20))} MiB"


#: ``log:FORMAT``: how a marker shows the value it found.
FORMATS = {"": lambda value: value, "MiB": _mib}

LOG_MARKER_RE = bootlogs.LOG_MARKER_RE
_ANY_MARKER_RE = re.compile(r"<!--[ \t]*/?log\b")


@dataclass(frozen=True)
class LogMarker:
    line: int       #: 1-based
    start: int      #: offsets of the value in the text
    end: int
    boot: bootlogs.Boot
    pattern: str
    format: str
    value: str      #: as written

    def title(self) -> str:
        return f"<!-- log{':' + self.format if self.format else ''} {bootlogs.boot_log_name(*self.boot)} {self.pattern} -->"


def _outside_fences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the text outside fenced blocks."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    spans, at = [], 0
    for start, end, _, fence, _ in fences([line.rstrip("\n") for line in lines]):
        if fence[0] == ":":
            continue
        spans.append((at, offsets[start]))
        at = offsets[min(end + 1, len(lines))]
    spans.append((at, len(text)))
    return spans


def log_markers(text: str) -> list[LogMarker]:
    """Every log marker outside fenced blocks; a malformed one is an error."""
    found = []
    for lo, hi in _outside_fences(text):
        part = text[lo:hi]
        good = {m.start(): m for m in LOG_MARKER_RE.finditer(part)}
        for any_marker in _ANY_MARKER_RE.finditer(part):
            at = lo + any_marker.start()
            line = text.count("\n", 0, at) + 1
            match = good.get(any_marker.start())
            if match is None:
                if not any(m.start() < any_marker.start() < m.end() for m in good.values()):
                    raise QuoteError(f"line {line}: a log marker reads <!-- log BOOT PATTERN -->VALUE<!-- /log -->, on one line")
                continue
            if at == 0 or text[at - 1] == "\n" or not text[text.rfind("\n", 0, at) + 1:at].strip():
                raise QuoteError(f"line {line}: a log marker may not begin a line (Markdown reads it as an HTML block)")
            if "--" in match["pattern"] or (match["format"] or "") not in FORMATS:
                raise QuoteError(f"line {line}: a log marker's pattern may not contain '--' (it ends an HTML comment); "
                                 f"formats: {', '.join(f or '(none)' for f in FORMATS)}")
            try:
                boot = bootlogs.boot_from_name(match["boot"])
            except ValueError as error:
                raise QuoteError(f"line {line}: {error}") from None
            found.append(LogMarker(line, lo + match.start("value"), lo + match.end("value"), boot,
                                   match["pattern"], match["format"] or "", match["value"]))
    return found


def marker_value(logs: Path, marker: LogMarker) -> str:
    """What the marker's text must be: the first match of its pattern in its
    boot's log (group 1 if there is one), formatted, in backticks if the
    written value is."""
    log, lines, _ = read_log(logs, marker.boot)
    try:
        regex = re.compile(marker.pattern)
    except re.error as error:
        raise QuoteError(f"bad pattern {marker.pattern!r}: {error}") from None
    for line in lines:
        match = regex.search(line)
        if match:
            value = FORMATS[marker.format](match[1] if regex.groups else match[0])
            code = len(marker.value) > 1 and marker.value.startswith("`") and marker.value.endswith("`")
            return f"`{value}`" if code else value
    raise QuoteError(f"no line of {log.name} matches {marker.pattern!r}")


# ---------------------------------------------------------------------------
# Checking and rewriting a file
# ---------------------------------------------------------------------------


#: Where ``book:begin``/``book:end`` markers are read: the sources, and the host
#: tests whose code the book shows because it runs (tests/host).
EXCERPT_ROOTS: tuple[str, ...] = ("chapters", "common", "tests/host")


@dataclass
class Sources:
    """Where quotes come from: the repository (its marker scan made once) and the captured logs."""

    root: Path
    logs: Path
    source_roots: tuple[str, ...] = EXCERPT_ROOTS
    _scan: markers.MarkerScan | None = None

    @property
    def scan(self) -> markers.MarkerScan:
        if self._scan is None:
            self._scan = markers.scan_tree(self.root, list(self.source_roots))
        return self._scan


def expected_body(sources: Sources, block: Block) -> tuple[list[str], str]:
    """The lines ``block`` must carry, and what they are quoted from."""
    if block.kind == "excerpt":
        if len(block.arguments) != 2:
            raise QuoteError("an excerpt names a file and a marker")
        path, name = block.arguments
        return excerpt(sources.root, sources.scan, path, name).code.splitlines(), f"{path} ({name})"
    limit = block.options.get("max")
    boot = bootlog(sources.logs, block.boot(), block.options.get("match") or None, int(limit) if limit else None)
    return boot.lines, boot.path.name


@dataclass(frozen=True)
class Finding:
    line: int
    what: str      #: the block or marker
    problem: str


def check_blocks(sources: Sources, text: str) -> list[Finding]:
    """Every block of a Markdown text whose inline copy is not what it quotes."""
    findings = []
    try:
        found = blocks(text)
    except QuoteError as error:
        return [Finding(0, "the file", str(error))]
    for block in found:
        try:
            expected, source = expected_body(sources, block)
            problem = difference(expected, block.body, source)
        except QuoteError as error:
            problem = str(error)
        if problem:
            findings.append(Finding(block.line, block.title(), problem))
    return findings


def check_markers(logs: Path, text: str) -> list[Finding]:
    """Every log marker of a Markdown text whose value is not what its boot logs."""
    findings = []
    try:
        found = log_markers(text)
    except QuoteError as error:
        return [Finding(0, "a log marker", str(error))]
    for marker in found:
        try:
            value = marker_value(logs, marker)
            problem = None if value == marker.value else f"says {marker.value!r}, the log says {value!r}"
        except QuoteError as error:
            problem = str(error)
        if problem:
            findings.append(Finding(marker.line, marker.title(), problem))
    return findings


def check(sources: Sources, text: str) -> list[Finding]:
    """Every inline copy and log-marker value of a Markdown text that is not
    what it quotes, or whose source cannot be read."""
    return check_blocks(sources, text) + check_markers(sources.logs, text)


def _body_lines(block: Block, expected: list[str]) -> list[str]:
    lines = normal(expected)
    for line in lines:
        if _closes(line, block.fence):
            raise QuoteError(f"a quoted line would close the block's fence {block.fence}: use a longer fence")
    # A blank line after the options reads better, and keeps a first line
    # that starts with ":" or "---" from being read as options.
    gap = [""] if block.options or (lines and lines[0].startswith((":", "---"))) else []
    return gap + [block.indent + line if line else "" for line in lines]


def sync(sources: Sources, text: str) -> str:
    """``text`` with every inline copy and marker value made current."""
    lines = text.splitlines(keepends=True)
    newline = "\n"
    for block in reversed(blocks(text)):
        try:
            body = _body_lines(block, expected_body(sources, block)[0])
        except QuoteError as error:
            raise QuoteError(f"line {block.line}: {block.title()}: {error}") from None
        lines[block.body_start:block.body_end] = [line + newline for line in body]
    text = "".join(lines)
    for marker in reversed(log_markers(text)):
        try:
            value = marker_value(sources.logs, marker)
        except QuoteError as error:
            raise QuoteError(f"line {marker.line}: {marker.title()}: {error}") from None
        text = text[:marker.start] + value + text[marker.end:]
    return text


def quoted_boots(text: str) -> list[bootlogs.Boot]:
    """The boots the blocks and markers of a text read."""
    return [b.boot() for b in blocks(text) if b.kind == "bootlog"] + [m.boot for m in log_markers(text)]
