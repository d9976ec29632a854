// translate(): what the tables say about one virtual address, read-only.
//
// The software version of the CPU's walk (SDM Vol. 3A, 4.5), so host tests
// can check what a builder wrote, and the kernel can check itself.
#pragma once

#include <stdint.h>

#include "mm/page_size.h"
#include "mm/paging_depth.h"
#include "mm/phys_addr.h"
#include "mm/physical_memory.h"
#include "mm/virt_addr.h"

namespace mm {

struct [[nodiscard]] Translation {
    bool present = false;               // false: not mapped (or not canonical); the rest is unset
    PhysAddr pa;                        // where the address itself lands, offset included
    PageSize page_size = PageSize::k4KiB;
    uint64_t flags = 0;                 // the leaf entry's flags (PS included for a large page)
};

// `root` is the table CR3 names: the PML4, or at `depth` 5 the PML5.
Translation translate(PhysAddr root, PhysicalMemoryAccess& memory, VirtAddr va, PagingDepth depth);
// The 4-level walk, which every chapter before 16 asks for.
Translation translate(PhysAddr pml4, PhysicalMemoryAccess& memory, VirtAddr va);

}  // namespace mm
