"""What the kernel's screen console drew, read back as text from QEMU's screendump.

The kernel mirrors its log to the GOP framebuffer (common/kernel/screen_console.*)
with a PSF font of Debian's console-setup-linux, converted into the kernel at
build time by scripts/psf_to_cpp.py. Here the same font file is read again,
by a parser of its own (not the build script's), and each character cell of
the screendump is decoded back into the character whose glyph it shows: a
cell is foreground wherever a pixel is not the black background, and its
pattern of foreground pixels must be exactly one printable ASCII glyph. The
rows of text that come out are compared with the serial log's lines, wrapped
at the same number of columns (:func:`assert_screen_shows`).

Formats, from kbd's font-formats documentation ("The PSF font format"):
PSF1 starts 36 04, then a mode byte (bit 0: 512 glyphs; bit 1 or 2: a
Unicode table) and the bytes per glyph, glyphs 8 pixels wide; its Unicode
table is little-endian 16-bit values, FFFF ending each glyph's list and FFFE
starting sequences. PSF2 starts 72 b5 4a 86 and seven little-endian 32-bit
words: version, header size, flags (bit 0: Unicode table), glyph count,
bytes per glyph, height, width; its table is UTF-8, FF ending each glyph's
list and FE starting sequences.
"""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

FONT_DIR = Path("/usr/share/consolefonts")
PRINTABLE = range(0x20, 0x7F)
BACKGROUND = (0, 0, 0)
UNKNOWN = "\ufffd"  # a cell that shows no glyph of the font


@dataclasses.dataclass(frozen=True)
class Font:
    width: int
    height: int
    glyphs: dict[str, tuple[int, ...]]
    """Printable ASCII character -> its rows, each an int whose bit
    ``width - 1 - x`` is the pixel at column x."""


def read_font(path: Path) -> Font:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:2] == bytes([0x36, 0x04]):
        mode, height = data[2], data[3]
        width, count, start, unicode_table = 8, (512 if mode & 1 else 256), 4, bool(mode & 6)
        utf16 = True
    elif data[:4] == bytes([0x72, 0xB5, 0x4A, 0x86]):
        words = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "little") for i in range(7)]
        _, start, flags, count, _, height, width = words
        unicode_table, utf16 = bool(flags & 1), False
    else:
        raise ValueError(f"{path}: not a PSF font")
    row_bytes = (width + 7) // 8
    glyph_bytes = row_bytes * height

    def rows(index: int) -> tuple[int, ...]:
        at = start + index * glyph_bytes
        return tuple(int.from_bytes(data[at + r * row_bytes:at + (r + 1) * row_bytes], "big") >> (8 * row_bytes - width)
                     for r in range(height))

    table_start = start + count * glyph_bytes
    owner: dict[int, int] = {}
    if not unicode_table:
        owner = {c: c for c in PRINTABLE}
    elif utf16:
        glyph, sequence = 0, False
        for at in range(table_start, len(data) - 1, 2):
            value = int.from_bytes(data[at:at + 2], "little")
            if value == 0xFFFF:
                glyph, sequence = glyph + 1, False
            elif value == 0xFFFE:
                sequence = True
            elif not sequence and value not in owner:
                owner[value] = glyph
    else:
        for glyph, entry in enumerate(data[table_start:].split(b"\xff")[:count]):
            for char in entry.split(b"\xfe")[0].decode("utf-8"):
                owner.setdefault(ord(char), glyph)
    return Font(width, height, {chr(c): rows(owner[c]) for c in PRINTABLE})


@dataclasses.dataclass(frozen=True)
class Screen:
    width: int
    height: int
    pixels: bytes  # RGB triples, row by row


def read_ppm(data: bytes) -> Screen:
    """QEMU's screendump: binary PPM, "P6\\n<width> <height>\\n255\\n" then RGB."""
    magic, dims, depth, pixels = data.split(b"\n", 3)
    width, height = map(int, dims.split())
    if magic != b"P6" or depth != b"255" or len(pixels) != 3 * width * height:
        raise ValueError(f"not a screendump: {magic!r} {dims!r} {depth!r}, {len(pixels)} bytes of pixels")
    return Screen(width, height, pixels)


@dataclasses.dataclass(frozen=True)
class Row:
    text: str
    colours: frozenset[tuple[int, int, int]]  # the foreground colours seen in the row


def decode(screen: Screen, font: Font, columns: int, rows: int) -> list[Row]:
    """Each of ``rows`` x ``columns`` cells from the top-left corner, as the
    character whose glyph it shows exactly, or :data:`UNKNOWN`."""
    by_pattern = {pattern: char for char, pattern in font.glyphs.items()}
    assert len(by_pattern) == len(font.glyphs), "two printable characters share a glyph: cells would be ambiguous"
    px, stride = screen.pixels, 3 * screen.width
    out = []
    for row in range(rows):
        chars, colours = [], set()
        for column in range(columns):
            pattern = []
            for y in range(font.height):
                at = (row * font.height + y) * stride + column * font.width * 3
                bits = 0
                for x in range(font.width):
                    colour = (px[at + 3 * x], px[at + 3 * x + 1], px[at + 3 * x + 2])
                    bits <<= 1
                    if colour != BACKGROUND:
                        bits |= 1
                        colours.add(colour)
                pattern.append(bits)
            chars.append(by_pattern.get(tuple(pattern), UNKNOWN))
        out.append(Row("".join(chars), frozenset(colours)))
    return out


def wrapped_rows(lines: list[str], columns: int) -> list[str]:
    """The rows the console fills with ``lines``: each line from a new row,
    cut every ``columns`` characters, padded with spaces."""
    rows = []
    for line in lines:
        chunks = [line[i:i + columns] for i in range(0, max(len(line), 1), columns)]
        rows += [chunk.ljust(columns) for chunk in chunks]
    return rows


def assert_screen_shows(screen_rows: list[Row], log_lines: list[str], columns: int) -> int:
    """The screen's text rows are the last rows of ``log_lines`` wrapped at
    ``columns``: every row up to the first blank one at the bottom matches,
    the last of them is the log's last line, and below it the screen is
    empty. Returns how many rows matched."""
    texts = [row.text for row in screen_rows]
    used = len(texts)
    while used and texts[used - 1].strip() == "":
        used -= 1
    assert used, "the screen shows no text"
    expected = wrapped_rows(log_lines, columns)
    assert used <= len(expected), f"the screen shows {used} rows, the log has only {len(expected)}"
    tail = expected[-used:]
    for index, (seen, wanted) in enumerate(zip(texts[:used], tail)):
        assert seen == wanted, f"screen row {index}:\n  screen: {seen.rstrip()!r}\n  log:    {wanted.rstrip()!r}"
    return used


def font_named(name: str) -> Font:
    return read_font(FONT_DIR / f"{name}.psf.gz")


# ---- a boot's screen against its serial log -------------------------------------------

CONSOLE_LINE = "[INFO  screen] console "
#: The colour of an INFO line (0xC0C0C0 in common/kernel/screen_console.cpp).
INFO_COLOUR = (0xC0, 0xC0, 0xC0)


@dataclasses.dataclass(frozen=True)
class ScreenReading:
    rows: list[Row]  # every row of the grid, top to bottom
    used: int  # rows from the top that hold text
    drawn: list[str]  # the serial log's lines the console drew, first to last
    columns: int


def screen_against_log(result, drawn_until: str | None = None) -> ScreenReading:
    """Decodes ``result``'s screendump and checks it against its serial log:
    the console's lines are those from ``[INFO  screen] console`` on, up to
    (not including) the first line that starts with ``drawn_until``, if
    given; the screen must show the last of them (:func:`assert_screen_shows`).
    The grid's size is the test's own: the screendump's size over the font's
    cell, which the kernel's console line must state too."""
    from .inspections import screen_ppm
    from .log import clean_lines, only

    console = only(result, "screen", "console")
    font = font_named(console.fields["font"])
    screen = read_ppm(screen_ppm(result))
    columns, rows = screen.width // font.width, screen.height // font.height
    assert (int(console.fields["columns"]), int(console.fields["rows"])) == (columns, rows)
    assert (int(console.fields["width"]), int(console.fields["height"])) == (screen.width, screen.height)
    lines = [line for line in clean_lines(result.log) if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith(CONSOLE_LINE)]
    assert len(starts) == 1, f"{len(starts)} console lines"
    drawn = lines[starts[0]:]
    if drawn_until is not None:
        ends = [i for i, line in enumerate(drawn) if line.startswith(drawn_until)]
        assert ends, f"no line starts with {drawn_until!r}"
        drawn = drawn[:ends[0]]
    decoded = decode(screen, font, columns, rows)
    used = assert_screen_shows(decoded, drawn, columns)
    for row in decoded[:used]:
        assert len(row.colours) <= 1, f"one line, one colour: {row.text.rstrip()!r} has {sorted(row.colours)}"
    return ScreenReading(decoded, used, drawn, columns)
