"""Turn the raw serial output into structured log records.

Two writers share the guest's first serial port:

* OVMF, which draws its text console on it. That output is full of ANSI
  terminal escape sequences (``ESC[2J`` clears the screen, ``ESC[01;01H``
  moves the cursor, ``ESC[0m`` resets colours) and ends lines with ``\\r\\n``.
* Our loader and kernel, which write one record per line::

      [INFO  kernel] ready chapter=01-boot
      [ERROR elf] bad header rule="must be EM_X86_64" machine=0x3e

  The level is padded to five characters (``INFO `` and ``WARN `` carry a
  trailing space), then one space, then the subsystem name in brackets.

Only lines that match that bracketed shape become :class:`LogRecord` objects;
firmware chatter is ignored. ``key=value`` pairs in a message are collected in
:attr:`LogRecord.fields`, so tests can check values instead of matching whole
strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

#: Log levels in increasing severity, without padding.
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "PANIC")

# CSI sequences (ESC [ parameters intermediates final), character-set
# selection (ESC ( B) and the remaining two-byte escapes (ESC c, ESC 7, ...).
_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_a-z0-9=>])")
# Other control characters (carriage return, backspace, NUL...), but keep tab and newline.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

#: The shape of one of our log lines (after cleaning). The level group keeps
#: its padding; :class:`LogRecord` stores it stripped.
RECORD_RE = re.compile(r"^\[(DEBUG|INFO |WARN |ERROR|PANIC) ([a-z0-9_.-]+)\] (.*)$")

# key=value or key="quoted value". A key starts a word; quoted values may
# contain spaces and backslash escapes (\" and \\). Unquoted values run to the
# next whitespace.
_FIELD_RE = re.compile(r'(?:(?<=\s)|^)([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_ESCAPE_RE = re.compile(r"\\(.)")


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences and control characters (``\\r`` included).

    Newlines and tabs survive, so the result can still be split into lines.
    """
    return _CONTROL_RE.sub("", _ANSI_RE.sub("", text))


def clean_lines(text: str) -> list[str]:
    """Split raw serial output into cleaned lines (see :func:`strip_ansi`)."""
    return strip_ansi(text).split("\n")


def parse_fields(message: str) -> dict[str, str]:
    """Collect ``key=value`` and ``key="quoted value"`` pairs from a message.

    Values are returned as strings, with the quotes removed and ``\\"`` /
    ``\\\\`` unescaped. If a key appears twice, the last value wins.

    >>> parse_fields('bad header rule="must be EM_X86_64" machine=0x3e')
    {'rule': 'must be EM_X86_64', 'machine': '0x3e'}
    """
    fields: dict[str, str] = {}
    for match in _FIELD_RE.finditer(message):
        key, value = match.group(1), match.group(2)
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = _ESCAPE_RE.sub(r"\1", value[1:-1])
        fields[key] = value
    return fields


@dataclass(frozen=True)
class LogRecord:
    """One ``[LEVEL subsystem] message`` line from the serial log."""

    level: str        #: "DEBUG", "INFO", "WARN", "ERROR" or "PANIC" (padding removed)
    subsystem: str    #: e.g. "kernel", "loader", "elf"
    message: str      #: everything after "] "
    fields: dict[str, str] = field(default_factory=dict, compare=False)  #: key=value pairs, as strings
    line_number: int = 0  #: 1-based line number in the cleaned serial log

    @property
    def event(self) -> str:
        """The words before the first ``key=value`` field, e.g. "map lapic".

        The kernel's log format keeps '=' out of event words, so this is
        exactly the event a line reports."""
        words = []
        for word in self.message.split():  # padding between columns is not part of a word
            if "=" in word:
                break
            words.append(word)
        return " ".join(words)

    def __str__(self) -> str:
        return f"[{self.level:<5} {self.subsystem}] {self.message}"


def parse_line(line: str, line_number: int = 0) -> LogRecord | None:
    """Parse one already-cleaned line; ``None`` if it is not one of our records."""
    match = RECORD_RE.match(line)
    if match is None:
        return None
    level, subsystem, message = match.groups()
    return LogRecord(
        level=level.rstrip(),
        subsystem=subsystem,
        message=message,
        fields=parse_fields(message),
        line_number=line_number,
    )


def iter_records(lines: Iterable[str], first_line_number: int = 1) -> Iterator[LogRecord]:
    """Yield the records among already-cleaned ``lines``."""
    for number, line in enumerate(lines, start=first_line_number):
        record = parse_line(line, number)
        if record is not None:
            yield record


def parse_records(text: str) -> list[LogRecord]:
    """Clean raw serial output and return every log record in it, in order."""
    return list(iter_records(clean_lines(text)))


def find_record(records: Iterable[LogRecord], subsystem: str, prefix: str = "") -> LogRecord | None:
    """First record from ``subsystem`` whose message starts with ``prefix``, or ``None``."""
    for record in records:
        if record.subsystem == subsystem and record.message.startswith(prefix):
            return record
    return None


def only(source, subsystem: str, event: str, **fields: str) -> LogRecord:
    """The one ``[subsystem] event`` line (with these ``fields``, if given) of
    ``source``, a boot result or a list of records: a second one would be a
    bug too, so anything but exactly one fails the test with the count."""
    records = getattr(source, "records", source)
    found = [r for r in records if r.subsystem == subsystem and r.event == event
             and all(r.fields.get(key) == value for key, value in fields.items())]
    shown = " ".join(f"{key}={value}" for key, value in fields.items())
    assert len(found) == 1, f"expected one '[{subsystem}] {event}' line {shown}, found {len(found)}"
    return found[0]


def records_for(records: Iterable[LogRecord], subsystem: str) -> list[LogRecord]:
    """All records from one subsystem, in log order."""
    return [record for record in records if record.subsystem == subsystem]


def sweep_segments(records: Iterable[LogRecord], event: str, key: str, subsystem: str | None = None,
                   until: str | None = None) -> dict[str, list[LogRecord]]:
    """A sweep boot's log (``test.…=all``) cut at each marker line: the
    marker's ``key`` field -> the marker and the records after it, up to the
    next marker, or up to a line whose event is ``until``. A marker is a line
    whose event is ``event``, from ``subsystem`` when one is given."""
    by_key: dict[str, list[LogRecord]] = {}
    current: list[LogRecord] | None = None
    for record in records:
        if record.event == event and subsystem in (None, record.subsystem):
            current = by_key.setdefault(record.fields[key], [])
        elif until is not None and record.event == until:
            current = None
        if current is not None:
            current.append(record)
    return by_key


def int_field(record: LogRecord, key: str) -> int:
    """Return ``record.fields[key]`` as an integer.

    Accepts hexadecimal with a ``0x`` prefix (``0x3e``) or decimal (``62``,
    also with leading zeros, which ``int(x, 0)`` would reject). Raises
    ``KeyError`` / ``ValueError`` naming the record, so a failing test says
    which line was wrong.
    """
    if key not in record.fields:
        raise KeyError(f"field {key!r} missing from log record: {record}")
    text = record.fields[key]
    try:
        return int_value(text)
    except ValueError:
        raise ValueError(f"field {key}={text!r} is not an integer in log record: {record}") from None


def int_value(text: str) -> int:
    """A field's text as an integer: ``0x3e`` or ``62`` (leading zeros too),
    optionally signed; ``ValueError`` if it is neither (:func:`int_field`)."""
    body = text[1:] if text[:1] in "+-" else text
    if body[:2].lower() == "0x":
        value = int(body[2:], 16)
    else:
        value = int(body, 10)
    return -value if text.startswith("-") else value


_SIZE_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
_SIZE_RE = re.compile(r"^(\d+)(B|KiB|MiB|GiB)$")


def size_field(record: LogRecord, key: str) -> int:
    """Return a size field (klog::size: ``4KiB``, ``10GiB``, ``100B``) in bytes."""
    if key not in record.fields:
        raise KeyError(f"field {key!r} missing from log record: {record}")
    size = size_value(record.fields[key])
    if size is None:
        raise ValueError(f"field {key!r} is not a size: {record}")
    return size


def size_value(text: str) -> int | None:
    """A field's text as klog::size writes it (``4KiB``, ``10GiB``, ``100B``),
    in bytes; ``None`` if it is not one (:func:`size_field`)."""
    match = _SIZE_RE.match(text)
    return int(match[1]) * _SIZE_UNITS[match[2]] if match else None


def loader_memory_map(records: Iterable[LogRecord]) -> list[tuple[str, int, int]]:
    """The final memory map as the loader dumped it (``loader.dump-map``):
    ``(type name, start, end)`` per descriptor, in the firmware's order."""
    return [
        (r.fields["type"], int_field(r, "start"), int_field(r, "start") + int_field(r, "pages") * 4096)
        for r in records
        if r.subsystem == "loader" and r.event == "map"
    ]
