// TextScreen: log lines drawn as character cells into a 32-bit framebuffer.
//
// The grid starts at the top-left corner: as many cells of the font's size as
// fit, up to kMaxColumns x kMaxRows (a larger screen keeps a black margin on
// the right and at the bottom). A line longer than a row wraps onto the next.
// When the last row is used, the screen jumps: the lower half of the rows
// moves to the top and the grid is redrawn from the characters kept here, so
// a boot's hundreds of lines cost one redraw per half screen, not one per
// line, and the framebuffer is never read (through an uncached or
// write-combining mapping a read is slow).
//
// Pure code over a pointer: the kernel hands it the framebuffer
// (kernel/screen_console.h), the host tests a buffer (tests/host/text_screen_test.cpp).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "boot/handoff.h"
#include "kernel/pixel_encoding.h"
#include "kernel/screen_font.h"
#include "support/violation.h"

namespace kernel {

// The handoff's framebuffer fields.
struct FramebufferGeometry {
    uint64_t base;  // physical address of the first pixel
    uint64_t size;  // bytes
    uint32_t width;  // visible pixels per scan line
    uint32_t height;  // scan lines
    uint32_t stride;  // pixels from one scan line to the next, >= width
    boot::PixelFormat format;
    boot::PixelMasks masks;  // for kBitMask (pixel_encoding.h)
};

FramebufferGeometry framebuffer_geometry(const boot::BootHandoff& handoff);

// Whether anything may draw into `fb`: 32-bit pixels whose colours
// pixel_encoding() can place (RGBX, BGRX, or a PixelBitMask it accepts), a
// base, a stride of at least the width, and height x stride x 4 bytes within
// the size the firmware gave: drawing past it would write into whatever lies
// beyond (chapter 06's test pattern asks this too).
Violation check_framebuffer_geometry(const FramebufferGeometry& fb);

// The geometry as above, and a visible area of at least one cell of `font`.
Violation check_framebuffer(const FramebufferGeometry& fb, const ScreenFont& font);

class TextScreen {
public:
    static constexpr uint32_t kMaxColumns = 240;  // 1920 pixels of an 8-pixel-wide font
    static constexpr uint32_t kMaxRows = 135;     // 2160 pixels of a 16-pixel-high font
    static constexpr uint32_t kBackground = 0x000000;  // 0xRRGGBB

    // Binds the grid to the pixels at `pixels`, laid out as `fb` says (which
    // passed check_framebuffer), and clears the grid's part of the screen.
    void start(volatile uint32_t* pixels, const FramebufferGeometry& fb, const ScreenFont& font);

    // The same pixels at another address (another mapping of the framebuffer).
    void move_to(volatile uint32_t* pixels) { pixels_ = pixels; }

    // One log line, without its newline if it has one, in colour `rgb`
    // (0xRRGGBB) on black, from the first column of the next free row.
    void write_line(const char* text, size_t length, uint32_t rgb);

    uint32_t columns() const { return columns_; }
    uint32_t rows() const { return rows_; }
    char at(uint32_t row, uint32_t column) const { return cells_[row][column]; }

private:
    uint32_t pixel(uint32_t rgb) const;
    void draw_row(uint32_t row);
    void jump();

    volatile uint32_t* pixels_ = nullptr;
    FramebufferGeometry fb_{};
    PixelEncoding encoding_{};
    const ScreenFont* font_ = nullptr;
    uint32_t columns_ = 0;
    uint32_t rows_ = 0;
    uint32_t next_row_ = 0;
    char cells_[kMaxRows][kMaxColumns];
    uint32_t colours_[kMaxRows];  // each row in its line's colour (0xRRGGBB)
};

}  // namespace kernel
