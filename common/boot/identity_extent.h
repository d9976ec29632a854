// How far the loader's bootstrap identity map reaches: the top of RAM, never
// the top of whatever the firmware's map happens to describe.
//
// The extent ends at the highest of
//   - 4 GiB: the LAPIC, IOAPIC, HPET and a 32-bit framebuffer live below it,
//     and the kernel of chapters 01-03 reaches them through this map;
//   - the end of the highest RAM descriptor, RAM as the kernel counts it
//     (mm::classify_descriptor: usable, loader-owned and firmware memory that
//     may be cached write-back);
//   - the end of the GOP framebuffer, which may be a 64-bit BAR above RAM;
// rounded up to 1 GiB. A device descriptor never moves it: one MMIO window
// near 2^46 would otherwise cost 64 Ki page-table pages (2 MiB pages), and
// past 2^47 the PML4 index would wrap into the kernel's slot.
//
// Pure code over the descriptor bytes, so the host tests run it on made-up maps.
#pragma once

#include <stdint.h>

#include "support/units.h"
#include "support/violation.h"

namespace boot {

inline constexpr uint64_t kMinIdentityTop = 4 * GiB;
// The most the identity map covers: what the kernel's phys-offset window
// covers too (mm::layout::kPhysWindowSize), far below the lower half's 2^47.
inline constexpr uint64_t kMaxIdentityTop = 64 * 1024 * GiB;

// Sets *top to the extent's end (a 1 GiB multiple) or names what cannot be
// identity-mapped: a RAM descriptor whose end overflows or passes 64 TiB
// (field=descriptor.end, index=the descriptor) or a framebuffer past 64 TiB.
Violation identity_top(const uint8_t* map, uint64_t map_size, uint64_t descriptor_size, uint64_t framebuffer_end,
                       uint64_t* top);

}  // namespace boot
