// The leaves of a process's lower half, in address order (chapter 14).
//
// Cloning, tearing down through the counts and auditing the counts all visit
// the same thing: every present 4 KiB leaf below the kernel half of one
// process PML4, with its virtual address. One walk here, so the three cannot
// disagree about which entries are the process's. The lower half holds only
// what UserAddressSpace::map_page() put there: user tables down to 4 KiB
// leaves (asserted, as map_page asserts it).
#pragma once

#include "mm/page_table_entry.h"
#include "mm/page_table_index.h"
#include "mm/physical_memory.h"
#include "mm/virt_addr.h"

namespace mm {

inline constexpr unsigned kUserPml4Slots = 256;  // PML4 slots 0-255: the lower half

// Calls visit(VirtAddr page, PageTableEntry& leaf) for every present leaf;
// visit returns false to stop the walk early, and then so does this.
template <typename Visit>
bool for_each_user_leaf(PhysicalMemoryAccess& memory, PhysAddr pml4, Visit&& visit) {
    PageTable& top = *memory.table_at(pml4);
    for (uint64_t i = 0; i < kUserPml4Slots; ++i) {
        if (!top.entries[i].present()) continue;
        PageTable& pdpt = *memory.table_at(top.entries[i].address());
        for (uint64_t j = 0; j < PageTableIndex::kCount; ++j) {
            const PageTableEntry pdpte = pdpt.entries[j];
            if (!pdpte.present()) continue;
            KASSERT(!pdpte.huge());
            PageTable& pd = *memory.table_at(pdpte.address());
            for (uint64_t k = 0; k < PageTableIndex::kCount; ++k) {
                const PageTableEntry pde = pd.entries[k];
                if (!pde.present()) continue;
                KASSERT(!pde.huge());
                PageTable& pt = *memory.table_at(pde.address());
                for (uint64_t l = 0; l < PageTableIndex::kCount; ++l) {
                    if (!pt.entries[l].present()) continue;
                    const VirtAddr page((i << 39) | (j << 30) | (k << 21) | (l << 12));
                    if (!visit(page, pt.entries[l])) return false;
                }
            }
        }
    }
    return true;
}

// The leaf over `page` in the lower half of `pml4`, or nullptr when no table
// reaches that far (the leaf itself may be non-present).
PageTableEntry* user_leaf(PhysicalMemoryAccess& memory, PhysAddr pml4, VirtAddr page);

}  // namespace mm
