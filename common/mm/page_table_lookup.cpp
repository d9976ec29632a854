#include "mm/page_table_lookup.h"

#include "mm/page_table_index.h"

namespace mm {

Translation translate(PhysAddr root, PhysicalMemoryAccess& memory, VirtAddr va, PagingDepth depth) {
    if (!va.is_canonical(depth)) return {};
    PhysAddr table = root;
    for (PageTableLevel level = root_level(depth);; level = next_lower(level)) {
        const PageTableEntry entry = (*memory.table_at(table))[index_at(va, level)];
        if (!entry.present()) return {};
        // PS is reserved in a PML4E and a PML5E: the CPU faults there instead of translating.
        if (!can_be_leaf(level) && entry.huge()) return {};
        // A PTE is always a leaf; above it, PS says the walk ends here.
        if (level == PageTableLevel::kPt || entry.huge()) {
            const PageSize size = leaf_page_size(level);
            const uint64_t offset = va.value() & (bytes(size) - 1);
            return {true, entry.page_address(level) + offset, size, entry.flags(level)};
        }
        table = entry.address();
    }
}

Translation translate(PhysAddr pml4, PhysicalMemoryAccess& memory, VirtAddr va) {
    return translate(pml4, memory, va, PagingDepth::kFourLevel);
}

}  // namespace mm
