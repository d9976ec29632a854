"""The screen checks themselves, without a boot: the decoder that reads a
screendump back as text, and the build's font converter.

The boot tests (test_01_boot, test_04_page_tables, test_11_heap) trust
``harness.screen`` to turn QEMU's screendump into rows of text. Here it reads
screens drawn in Python with the same font, and must fail on a screen that
differs from the log by one character or one pixel. The converter
(scripts/psf_to_cpp.py), which puts the font into the kernel, must agree with
the harness's own PSF reader glyph for glyph, and refuse what is not a font.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys

import pytest

from harness.paths import REPO_ROOT
from harness.screen import (INFO_COLOUR, UNKNOWN, Row, Screen, assert_screen_shows, decode, font_named,
                            read_font, read_ppm, wrapped_rows)

FONT_NAME = re.search(r"consolefonts/([\w-]+)\.psf\.gz", (REPO_ROOT / "mk" / "kernel.mk").read_text())[1]
CONVERTER = REPO_ROOT / "scripts" / "psf_to_cpp.py"
COLUMNS, ROWS = 20, 6


@pytest.fixture(scope="module")
def font():
    return font_named(FONT_NAME)


def draw(font, rows: list[str], colour=INFO_COLOUR) -> Screen:
    """What the kernel's TextScreen draws for these rows, drawn here."""
    width, height = COLUMNS * font.width, ROWS * font.height
    pixels = bytearray(3 * width * height)
    for r, text in enumerate(rows):
        for c, char in enumerate(text):
            for y, bits in enumerate(font.glyphs[char]):
                for x in range(font.width):
                    if bits >> (font.width - 1 - x) & 1:
                        at = 3 * ((r * font.height + y) * width + c * font.width + x)
                        pixels[at:at + 3] = bytes(colour)
    header = f"P6\n{width} {height}\n255\n".encode()
    return read_ppm(header + bytes(pixels))


LOG = ["[INFO  kernel] hello", "[INFO  handoff] a line longer than twenty columns", "[INFO  kernel] ready"]


def test_a_drawn_screen_reads_back_as_the_log(font):
    rows = wrapped_rows(LOG, COLUMNS)
    assert rows[1:4] == ["[INFO  handoff] a li", "ne longer than twent", "y columns".ljust(COLUMNS)]
    decoded = decode(draw(font, rows), font, COLUMNS, ROWS)
    assert [row.text for row in decoded[:len(rows)]] == rows
    assert decoded[0].colours == {INFO_COLOUR} and decoded[-1] == Row(" " * COLUMNS, frozenset())
    assert assert_screen_shows(decoded, LOG, COLUMNS) == len(rows)
    # A screen that scrolled shows the tail: the log may hold more than the screen.
    assert assert_screen_shows(decoded, ["[INFO  kernel] gone from the screen"] + LOG, COLUMNS) == len(rows)


def test_one_character_off_fails(font):
    decoded = decode(draw(font, wrapped_rows(LOG, COLUMNS)), font, COLUMNS, ROWS)
    changed = LOG[:2] + ["[INFO  kernel] readY"]
    with pytest.raises(AssertionError, match="screen row 4"):
        assert_screen_shows(decoded, changed, COLUMNS)


def test_one_pixel_off_is_no_character(font):
    screen = draw(font, wrapped_rows(LOG, COLUMNS))
    pixels = bytearray(screen.pixels)
    pixels[0:3] = b"\x01\x01\x01"  # the top-left pixel of "[", which is blank in the glyph
    decoded = decode(Screen(screen.width, screen.height, bytes(pixels)), font, COLUMNS, ROWS)
    assert decoded[0].text[0] == UNKNOWN and decoded[0].text[1:] == wrapped_rows(LOG, COLUMNS)[0][1:]
    with pytest.raises(AssertionError, match="screen row 0"):
        assert_screen_shows(decoded, LOG, COLUMNS)


def test_lines_missing_from_the_screen_fail(font):
    decoded = decode(draw(font, wrapped_rows(LOG[:2], COLUMNS)), font, COLUMNS, ROWS)
    with pytest.raises(AssertionError):
        assert_screen_shows(decoded, LOG, COLUMNS)  # `ready` was logged but is not on the screen
    with pytest.raises(AssertionError, match="no text"):
        assert_screen_shows(decode(draw(font, []), font, COLUMNS, ROWS), LOG, COLUMNS)


# ---- the build's converter ---------------------------------------------------------------


def converted_glyphs(tmp_path, font_file) -> dict[str, tuple[int, ...]]:
    out = tmp_path / "font.cpp"
    subprocess.run([sys.executable, str(CONVERTER), str(font_file), str(out)], check=True)
    glyphs = {}
    for body, char in re.findall(r"^    ((?:0x[0-9a-f]{2},\s*)+)// (.+)$", out.read_text(), re.M):
        char = chr(int(char, 16)) if char.startswith("0x") else char[1:-1]
        glyphs[char] = tuple(int(b, 16) for b in re.findall(r"0x[0-9a-f]{2}", body))
    return glyphs


def test_the_kernels_font_is_the_harness_font(tmp_path, font):
    """Two readers of the same PSF file, one in the build, one in the tests,
    agree on every printable character's glyph."""
    converted = converted_glyphs(tmp_path, f"/usr/share/consolefonts/{FONT_NAME}.psf.gz")
    assert len(converted) == 95
    assert font.width == 8, "the comparison below reads one byte per glyph row"
    assert converted == font.glyphs


def psf2(glyphs: dict[str, list[int]], width=8, height=2) -> bytes:
    """A small PSF2 font with a Unicode table, glyphs in reverse order."""
    chars = sorted(glyphs, reverse=True)
    header = bytes([0x72, 0xB5, 0x4A, 0x86]) + b"".join(
        v.to_bytes(4, "little") for v in (0, 32, 1, len(chars), height, height, width))
    bitmaps = b"".join(bytes(glyphs[c]) for c in chars)
    table = b"".join(c.encode() + b"\xff" for c in chars)
    return header + bitmaps + table


def test_the_converter_follows_the_unicode_table(tmp_path):
    glyphs = {chr(c): [c, 0xFF - c] for c in range(0x20, 0x7F)}
    path = tmp_path / "small.psf.gz"
    path.write_bytes(gzip.compress(psf2(glyphs)))
    assert converted_glyphs(tmp_path, path) == {c: tuple(rows) for c, rows in glyphs.items()}
    assert read_font(path).glyphs["A"] == (0x41, 0xBE)


@pytest.mark.parametrize("damage, message", [
    (lambda data: b"\0\0\0\0" + data[4:], "not a PSF font"),
    (lambda data: data[:200], "do not fit"),
    (lambda data: data.replace(b"~\xff", b"\xff"), "no glyph for printable ASCII 0x7e"),
])
def test_the_converter_refuses_by_name(tmp_path, damage, message):
    path = tmp_path / "bad.psf"
    path.write_bytes(damage(psf2({chr(c): [c, c] for c in range(0x20, 0x7F)})))
    run = subprocess.run([sys.executable, str(CONVERTER), str(path), str(tmp_path / "out.cpp")],
                         capture_output=True, text=True)
    assert run.returncode == 1 and message in run.stderr, run.stderr
    assert not (tmp_path / "out.cpp").exists()
