// check_phys_window: proof that the phys-offset window shows the same bytes
// as the identity map (chapters 05-08, while both exist).
//
// For every RAM run: its first, middle and last page, and both sides of its
// first 2 MiB and 1 GiB boundaries (where page sizes change); and 256 pages
// spread over all of RAM by a fixed pseudo-random sequence. On up to 32 free
// pages a pattern is written one way and read the other, then restored; a
// page table or anything the firmware or loader owns is only compared.
// A mismatch is logged and stops the boot.
#pragma once

#include "boot_frame_allocator.h"
#include "memory_ranges.h"

namespace mm {

void check_phys_window(const MemoryRangeList& ranges, const BootFrameAllocator& frames);

}  // namespace mm
