#include "mm/user_leaves.h"

#include "mm/user_layout.h"

namespace mm {

PageTableEntry* user_leaf(PhysicalMemoryAccess& memory, PhysAddr pml4, VirtAddr page) {
    if (page >= kUserLimit) return nullptr;  // at five levels, bits 56:48 too: no PML4 index of ours
    PhysAddr at = pml4;
    for (PageTableLevel level = PageTableLevel::kPml4; level != PageTableLevel::kPt; level = next_lower(level)) {
        const PageTableEntry e = (*memory.table_at(at))[index_at(page, level)];
        if (!e.present()) return nullptr;
        KASSERT(!e.huge());  // the lower half has 4 KiB leaves only (map_page)
        at = e.address();
    }
    return &(*memory.table_at(at))[index_at(page, PageTableLevel::kPt)];
}

}  // namespace mm
