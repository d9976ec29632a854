// The screen console's drawing, over a buffer instead of a framebuffer: the
// geometry it refuses (by field), where glyph pixels land (stride, pixel
// format), wrapping, and the jump when the grid is full.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernel/text_screen.h"

namespace {

// A 4x3 font whose every printable character is its code's low 4 bits in the
// top row (leftmost pixel = bit 3) and a full bottom row, so a test can tell
// characters apart from pixels alone.
constexpr uint32_t kW = 4, kH = 3;
uint8_t g_glyphs[95 * kH];
const kernel::ScreenFont& test_font() {
    static kernel::ScreenFont font = [] {
        for (unsigned c = 0x20; c <= 0x7E; ++c) {
            uint8_t* g = g_glyphs + (c - 0x20) * kH;
            g[0] = uint8_t((c & 0xF) << 4);
            g[1] = 0;
            g[2] = 0xF0;
        }
        return kernel::ScreenFont{"test", kW, kH, 1, 0x20, 0x7E, g_glyphs};
    }();
    return font;
}

kernel::FramebufferGeometry geometry(uint32_t width, uint32_t height, uint32_t stride,
                                     boot::PixelFormat format = boot::PixelFormat::kBgrx, boot::PixelMasks masks = {}) {
    return {0x8000'0000, uint64_t(height) * stride * 4, width, height, stride, format, masks};
}

// A 10-bit-per-colour framebuffer, as some GOPs describe theirs with PixelBitMask.
constexpr boot::PixelMasks k10Bit = {0x3FF00000, 0x000FFC00, 0x000003FF, 0xC0000000};

struct Screen {
    kernel::FramebufferGeometry fb;
    std::vector<uint32_t> pixels;
    kernel::TextScreen text;
    explicit Screen(kernel::FramebufferGeometry g) : fb(g), pixels(size_t(g.stride) * g.height, 0xDEADBEEF) {
        text.start(pixels.data(), fb, test_font());
    }
    uint32_t at(uint32_t x, uint32_t y) const { return pixels[size_t(y) * fb.stride + x]; }
    // The character the cell shows, from its top row: the code's low 4 bits.
    unsigned top_bits(uint32_t row, uint32_t column, uint32_t ink) const {
        unsigned bits = 0;
        for (uint32_t x = 0; x < kW; ++x) bits = bits << 1 | (at(column * kW + x, row * kH) == ink);
        return bits;
    }
    void write(const char* s, uint32_t rgb = 0xC0C0C0) { text.write_line(s, std::strlen(s), rgb); }
};

}  // namespace

TEST(TextScreen, RefusesGeometryByField) {
    const kernel::ScreenFont& f = test_font();
    EXPECT_TRUE(kernel::check_framebuffer(geometry(16, 9, 16), f).ok());
    auto field = [&](kernel::FramebufferGeometry g) { return std::string(kernel::check_framebuffer(g, f).field ?: ""); };
    EXPECT_EQ(field(geometry(16, 9, 16, boot::PixelFormat::kBitMask)), "framebuffer_red_mask");  // no masks
    EXPECT_TRUE(kernel::check_framebuffer(geometry(16, 9, 16, boot::PixelFormat::kBitMask, k10Bit), f).ok());
    EXPECT_EQ(field(geometry(16, 9, 16, boot::PixelFormat::kBltOnly)), "framebuffer_format");
    EXPECT_EQ(field(geometry(16, 9, 15)), "framebuffer_stride");
    EXPECT_EQ(field(geometry(3, 9, 16)), "framebuffer_width");
    EXPECT_EQ(field(geometry(16, 2, 16)), "framebuffer_height");
    kernel::FramebufferGeometry small = geometry(16, 9, 16);
    small.size -= 1;  // one byte short of height x stride x 4
    EXPECT_EQ(field(small), "framebuffer_size");
    EXPECT_EQ(kernel::check_framebuffer(small, f).value, small.size);
    kernel::FramebufferGeometry huge = geometry(16, 0xFFFF'FFFF, 0xFFFF'FFFF);
    huge.size = ~uint64_t(0);  // height x stride x 4 would wrap a 64-bit product
    EXPECT_EQ(field(huge), "framebuffer_size");
    kernel::FramebufferGeometry no_base = geometry(16, 9, 16);
    no_base.base = 0;
    EXPECT_EQ(field(no_base), "framebuffer_base");
}

TEST(TextScreen, StartClearsTheGridOnlyAndHonoursStride) {
    Screen s(geometry(10, 7, 12));  // 2 columns x 2 rows; 2 pixels right and 1 below are margin
    EXPECT_EQ(s.text.columns(), 2u);
    EXPECT_EQ(s.text.rows(), 2u);
    EXPECT_EQ(s.at(7, 5), 0u);  // inside the grid: black
    EXPECT_EQ(s.at(8, 0), 0xDEADBEEFu);  // right margin untouched
    EXPECT_EQ(s.at(10, 0), 0xDEADBEEFu);  // between width and stride: never written
    EXPECT_EQ(s.at(0, 6), 0xDEADBEEFu);  // bottom margin untouched
}

TEST(TextScreen, PixelFormatDecidesTheByteOrder) {
    Screen bgrx(geometry(8, 6, 8, boot::PixelFormat::kBgrx));
    bgrx.write("A", 0x112233);
    EXPECT_EQ(bgrx.at(0, 2), 0x112233u);  // bottom row of the glyph: ink, as 0x00RRGGBB
    Screen rgbx(geometry(8, 6, 8, boot::PixelFormat::kRgbx));
    rgbx.write("A", 0x112233);
    EXPECT_EQ(rgbx.at(0, 2), 0x332211u);  // R first in memory: red and blue swap
}

TEST(TextScreen, GlyphsLandInTheirCellsAndLongLinesWrap) {
    Screen s(geometry(8, 9, 8));  // 2 columns x 3 rows
    s.write("ABC\n");  // the newline ends the line, it is not drawn
    EXPECT_EQ(s.text.at(0, 0), 'A');
    EXPECT_EQ(s.text.at(0, 1), 'B');
    EXPECT_EQ(s.text.at(1, 0), 'C');
    EXPECT_EQ(s.text.at(1, 1), ' ');
    EXPECT_EQ(s.top_bits(0, 0, 0xC0C0C0), unsigned('A' & 0xF));
    EXPECT_EQ(s.top_bits(0, 1, 0xC0C0C0), unsigned('B' & 0xF));
    EXPECT_EQ(s.top_bits(1, 0, 0xC0C0C0), unsigned('C' & 0xF));
    EXPECT_EQ(s.top_bits(1, 1, 0xC0C0C0), 0u);  // blank
}

TEST(TextScreen, AFullGridJumpsByHalfAndRedraws) {
    Screen s(geometry(4, 12, 4));  // 1 column x 4 rows
    for (const char* line : {"a", "b", "c", "d"}) s.write(line);
    EXPECT_EQ(s.text.at(3, 0), 'd');
    s.write("e");  // no row left: rows c, d move to the top, e follows
    EXPECT_EQ(s.text.at(0, 0), 'c');
    EXPECT_EQ(s.text.at(1, 0), 'd');
    EXPECT_EQ(s.text.at(2, 0), 'e');
    EXPECT_EQ(s.text.at(3, 0), ' ');
    EXPECT_EQ(s.top_bits(0, 0, 0xC0C0C0), unsigned('c' & 0xF));  // the pixels were redrawn, not just the cells
    EXPECT_EQ(s.top_bits(2, 0, 0xC0C0C0), unsigned('e' & 0xF));
    EXPECT_EQ(s.at(0, 3 * kH + 2), 0u);  // the last row is cleared
}

// ---- pixels from colours: RGBX, BGRX and bit masks ----------------------------------

TEST(PixelEncoding, RgbxAndBgrxAreTheirFixedMasks) {
    kernel::PixelEncoding bgrx, rgbx;
    ASSERT_TRUE(kernel::pixel_encoding(boot::PixelFormat::kBgrx, {}, &bgrx).ok());
    ASSERT_TRUE(kernel::pixel_encoding(boot::PixelFormat::kRgbx, {}, &rgbx).ok());
    EXPECT_EQ(bgrx.encode(0x123456), 0x123456u);  // in memory 56 34 12 00: B, G, R
    EXPECT_EQ(rgbx.encode(0x123456), 0x563412u);  // in memory 12 34 56 00: R, G, B
}

TEST(PixelEncoding, BitMasksScaleEachColourToItsChannel) {
    kernel::PixelEncoding e;
    ASSERT_TRUE(kernel::pixel_encoding(boot::PixelFormat::kBitMask, k10Bit, &e).ok());
    EXPECT_EQ(e.red.shift, 20u);
    EXPECT_EQ(e.red.bits, 10u);
    EXPECT_EQ(e.encode(0xFFFFFF), 0x3FFFFFFFu);                    // full intensity fills every channel bit
    EXPECT_EQ(e.encode(0xFF0000), 0x3FF00000u);
    EXPECT_EQ(e.encode(0x000080), 0x202u);                         // 0x80 at 10 bits: 0b10'0000'0010
    kernel::PixelEncoding narrow;                                  // 6 bits of blue in a 32-bit pixel
    ASSERT_TRUE(kernel::pixel_encoding(boot::PixelFormat::kBitMask, {0xFF0000, 0xFF00, 0x3F, 0xFF000000}, &narrow).ok());
    EXPECT_EQ(narrow.encode(0x0000FF), 0x3Fu);
    EXPECT_EQ(narrow.encode(0x000003), 0x0u);                      // the top 6 bits of 0x03
}

TEST(PixelEncoding, MasksItCannotDrawAreRefusedByName) {
    auto field = [](boot::PixelFormat format, boot::PixelMasks m) {
        kernel::PixelEncoding e;
        return std::string(kernel::pixel_encoding(format, m, &e).field ?: "");
    };
    EXPECT_EQ(field(boot::PixelFormat::kBitMask, {0, 0xFF00, 0xFF, 0xFF000000}), "framebuffer_red_mask");
    EXPECT_EQ(field(boot::PixelFormat::kBitMask, {0xF0F0000, 0xFF00, 0xFF, 0}), "framebuffer_red_mask");  // a gap
    EXPECT_EQ(field(boot::PixelFormat::kBitMask, {0xFF0000, 0xFFFF00, 0xFF, 0}), "framebuffer_masks");   // shared bits
    EXPECT_EQ(field(boot::PixelFormat::kBitMask, {0xF800, 0x07E0, 0x001F, 0}), "framebuffer_masks");    // 16-bit 5:6:5
    EXPECT_EQ(field(boot::PixelFormat::kBltOnly, {}), "framebuffer_format");
    EXPECT_EQ(field(boot::PixelFormat::kNone, {}), "framebuffer_format");
}

TEST(TextScreen, DrawsInTheColoursOfABitMaskFramebuffer) {
    Screen s(geometry(16, 9, 16, boot::PixelFormat::kBitMask, k10Bit));
    s.write("A", 0xFFFFFF);
    bool ink_seen = false;
    for (uint32_t x = 0; x < kW; ++x) ink_seen |= s.at(x, 0) == 0x3FFFFFFF;
    EXPECT_TRUE(ink_seen) << "white at 10 bits per colour is 0x3FFFFFFF";
}
