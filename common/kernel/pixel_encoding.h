// How a colour becomes a pixel in the framebuffer the firmware handed over.
//
// GOP describes its linear framebuffer in one of three ways (UEFI 2.10,
// EFI_GRAPHICS_PIXEL_FORMAT): RGBX and BGRX, 8 bits per colour in a 32-bit
// pixel, or PixelBitMask, where four masks (EFI_PIXEL_BITMASK) say which bits
// of a pixel are red, green, blue and reserved, and the highest bit set says
// how wide a pixel is. The first two are masks too, so one encoder serves
// all three: each 8-bit colour is scaled to its channel's width and shifted
// into place. Drawing here writes 32-bit pixels, so a bit mask whose pixel is
// narrower (16-bit 5:6:5, 24-bit) is refused by name rather than drawn wrong.
#pragma once

#include <stdint.h>

#include "boot/handoff.h"
#include "support/violation.h"

namespace kernel {

struct PixelChannel {
    uint8_t shift = 0;  // lowest bit of the channel in the pixel
    uint8_t bits = 0;   // its width: 1 to 32
};

struct PixelEncoding {
    PixelChannel red, green, blue;

    // 0xRRGGBB, 8 bits per colour, as the pixel the framebuffer wants.
    uint32_t encode(uint32_t rgb) const;
};

// The encoding of `format` (with `masks` for PixelBitMask), or the field and
// rule that refuse it: a format without a linear framebuffer, a mask that is
// empty, not one run of bits, or shares bits with another, or a pixel that is
// not 32 bits wide.
Violation pixel_encoding(boot::PixelFormat format, const boot::PixelMasks& masks, PixelEncoding* out);

}  // namespace kernel
