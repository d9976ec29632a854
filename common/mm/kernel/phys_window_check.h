// check_phys_window: proof that the phys-offset window shows the same bytes
// as the identity map (chapters 05-08, while both exist).
//
// For every usable range: its first, middle and last page; for every RAM run:
// both sides of its first 2 MiB and 1 GiB boundaries (where page sizes
// change); and 256 pages spread over all of RAM by a fixed pseudo-random
// sequence. Only usable RAM is read (conventional, boot-services and loader
// memory): a chosen page the firmware owns, or that is not RAM, is counted as
// not-read and left alone. On up to 8 free pages a pattern is written one way
// and read the other, then restored; a page table is only compared.
// A mismatch is logged and stops the boot. `last-ram-page` is the highest page
// the check read.
#pragma once

#include "mm/boot_frame_allocator.h"
#include "mm/memory_ranges.h"

namespace mm {

void check_phys_window(const MemoryRangeList& ranges, const BootFrameAllocator& frames);

}  // namespace mm
