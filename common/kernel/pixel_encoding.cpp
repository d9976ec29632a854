#include "kernel/pixel_encoding.h"

namespace kernel {
namespace {

// One run of set bits, as its shift and width; false for 0 or a mask with a gap.
bool channel_of(uint32_t mask, PixelChannel* out) {
    if (mask == 0) return false;
    const unsigned shift = unsigned(__builtin_ctz(mask));
    const uint64_t run = uint64_t(mask) >> shift;
    if ((run & (run + 1)) != 0) return false;  // run + 1 is a power of two only for 0b0..01..1
    *out = {uint8_t(shift), uint8_t(64 - __builtin_clzll(run))};  // the run starts at bit 0 now
    return true;
}

// An 8-bit colour value at `bits` bits: the top bits when narrower, the
// value repeated into the low bits when wider, so 0xFF stays all ones.
uint32_t scaled(uint32_t value8, unsigned bits) {
    if (bits <= 8) return value8 >> (8 - bits);
    uint64_t out = 0;
    for (int filled = int(bits); filled > 0; filled -= 8)
        out |= filled >= 8 ? uint64_t(value8) << (filled - 8) : uint64_t(value8) >> (8 - filled);
    return uint32_t(out);
}

}  // namespace

uint32_t PixelEncoding::encode(uint32_t rgb) const {
    auto put = [](uint32_t value8, PixelChannel c) { return uint32_t(uint64_t(scaled(value8, c.bits)) << c.shift); };
    return put((rgb >> 16) & 0xFF, red) | put((rgb >> 8) & 0xFF, green) | put(rgb & 0xFF, blue);
}

Violation pixel_encoding(boot::PixelFormat format, const boot::PixelMasks& masks, PixelEncoding* out) {
    boot::PixelMasks m = masks;
    switch (format) {
        case boot::PixelFormat::kRgbx: m = {0x0000FF, 0x00FF00, 0xFF0000, 0xFF000000}; break;  // bytes R, G, B, X
        case boot::PixelFormat::kBgrx: m = {0xFF0000, 0x00FF00, 0x0000FF, 0xFF000000}; break;  // bytes B, G, R, X
        case boot::PixelFormat::kBitMask: break;
        default: return reject("framebuffer_format", uint64_t(format), "must be rgbx, bgrx or bitmask (a linear framebuffer)");
    }
    if (!channel_of(m.red, &out->red)) return reject("framebuffer_red_mask", m.red, "must be one run of set bits");
    if (!channel_of(m.green, &out->green)) return reject("framebuffer_green_mask", m.green, "must be one run of set bits");
    if (!channel_of(m.blue, &out->blue)) return reject("framebuffer_blue_mask", m.blue, "must be one run of set bits");
    if ((m.red & m.green) || (m.red & m.blue) || (m.green & m.blue) || ((m.red | m.green | m.blue) & m.reserved))
        return reject("framebuffer_masks", uint64_t(m.red | m.green | m.blue), "must not share bits");
    const uint32_t all = m.red | m.green | m.blue | m.reserved;
    if (all < (1u << 24))  // the highest bit set sets the pixel's width (UEFI 2.10, EFI_PIXEL_BITMASK)
        return reject("framebuffer_masks", all, "must describe a 32-bit pixel (highest bit 24 or above)");
    return accept();
}

}  // namespace kernel
