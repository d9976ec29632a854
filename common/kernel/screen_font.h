// The screen console's font: one bitmap per printable ASCII character.
//
// Its definition is generated at build time by scripts/psf_to_cpp.py from a
// PSF console font of Debian's console-setup-linux package (the file is named
// in mk/kernel.mk and never committed). A glyph is `height` rows of
// `row_bytes` bytes each; in a row the most significant bit is the leftmost
// pixel, and a set bit is ink.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kernel {

struct ScreenFont {
    const char* name;  // the PSF file's name, e.g. "Lat15-Fixed16": the tests read the same file
    uint32_t width;  // pixels per glyph row
    uint32_t height;  // rows per glyph
    uint32_t row_bytes;  // bytes per glyph row: div_ceil(width, 8)
    uint8_t first;  // glyphs cover first..last (0x20..0x7E)
    uint8_t last;
    const uint8_t* glyphs;

    // Characters outside first..last show as '?', as klog already writes them.
    const uint8_t* glyph(char c) const {
        const uint8_t code = (uint8_t(c) < first || uint8_t(c) > last) ? uint8_t('?') : uint8_t(c);
        return glyphs + size_t(code - first) * height * row_bytes;
    }
    bool ink(const uint8_t* glyph, uint32_t x, uint32_t y) const {
        return (glyph[y * row_bytes + x / 8] >> (7 - x % 8)) & 1;
    }
};

// The font the kernel draws with (generated: build/generated/screen_font.cpp).
extern const ScreenFont kScreenFont;

}  // namespace kernel
