#include "kernel/text_screen.h"

namespace kernel {

FramebufferGeometry framebuffer_geometry(const boot::BootHandoff& h) {
    return {h.framebuffer_base, h.framebuffer_size, h.framebuffer_width, h.framebuffer_height, h.framebuffer_stride,
            h.framebuffer_format, h.framebuffer_masks};
}

Violation check_framebuffer_geometry(const FramebufferGeometry& fb) {
    PixelEncoding encoding;
    if (Violation v = pixel_encoding(fb.format, fb.masks, &encoding); !v.ok()) return v;
    if (fb.base == 0) return reject("framebuffer_base", fb.base, "must not be 0");
    if (fb.stride < fb.width) return reject("framebuffer_stride", fb.stride, "must be at least framebuffer_width");
    // height * stride < 2^64, so the product cannot wrap; * 4 could, hence size / 4.
    if (uint64_t(fb.height) * fb.stride > fb.size / 4)
        return reject("framebuffer_size", fb.size, "must hold height x stride x 4 bytes");
    return accept();
}

Violation check_framebuffer(const FramebufferGeometry& fb, const ScreenFont& font) {
    if (Violation v = check_framebuffer_geometry(fb); !v.ok()) return v;
    if (fb.width < font.width) return reject("framebuffer_width", fb.width, "must hold one character cell");
    if (fb.height < font.height) return reject("framebuffer_height", fb.height, "must hold one character cell");
    return accept();
}

void TextScreen::start(volatile uint32_t* pixels, const FramebufferGeometry& fb, const ScreenFont& font) {
    pixels_ = pixels;
    fb_ = fb;
    (void)pixel_encoding(fb.format, fb.masks, &encoding_);  // check_framebuffer() accepted it
    font_ = &font;
    columns_ = fb.width / font.width < kMaxColumns ? fb.width / font.width : kMaxColumns;
    rows_ = fb.height / font.height < kMaxRows ? fb.height / font.height : kMaxRows;
    next_row_ = 0;
    for (uint32_t row = 0; row < rows_; ++row) {
        for (uint32_t column = 0; column < columns_; ++column) cells_[row][column] = ' ';
        colours_[row] = kBackground;
        draw_row(row);
    }
}

uint32_t TextScreen::pixel(uint32_t rgb) const { return encoding_.encode(rgb); }

void TextScreen::draw_row(uint32_t row) {
    const uint32_t ink = pixel(colours_[row]);
    const uint32_t paper = pixel(kBackground);
    const ScreenFont& font = *font_;
    for (uint32_t y = 0; y < font.height; ++y) {
        volatile uint32_t* line = pixels_ + (uint64_t(row) * font.height + y) * fb_.stride;
        for (uint32_t column = 0; column < columns_; ++column) {
            const uint8_t* glyph = font.glyph(cells_[row][column]);
            volatile uint32_t* cell = line + uint64_t(column) * font.width;
            for (uint32_t x = 0; x < font.width; ++x) cell[x] = font.ink(glyph, x, y) ? ink : paper;
        }
    }
}

// The lower half of the rows moves up and everything is drawn again.
void TextScreen::jump() {
    const uint32_t kept = rows_ / 2;
    for (uint32_t row = 0; row < rows_; ++row) {
        const uint32_t from = rows_ - kept + row;
        for (uint32_t column = 0; column < columns_; ++column) cells_[row][column] = row < kept ? cells_[from][column] : ' ';
        colours_[row] = row < kept ? colours_[from] : kBackground;
        draw_row(row);
    }
    next_row_ = kept;
}

void TextScreen::write_line(const char* text, size_t length, uint32_t rgb) {
    if (pixels_ == nullptr || rows_ == 0) return;
    if (length > 0 && text[length - 1] == '\n') --length;
    size_t done = 0;
    do {
        if (next_row_ == rows_) jump();
        const uint32_t row = next_row_++;
        for (uint32_t column = 0; column < columns_; ++column)
            cells_[row][column] = done + column < length ? text[done + column] : ' ';
        colours_[row] = rgb;
        draw_row(row);
        done += columns_;
    } while (done < length);
}

}  // namespace kernel
