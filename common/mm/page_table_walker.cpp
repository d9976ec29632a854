#include "mm/page_table_walker.h"

namespace mm {

const char* describe(StrayKind kind) {
    switch (kind) {
        case StrayKind::kNotPresentNonZero: return "every non-present entry must be zero";
        case StrayKind::kPsInPml4e: return "PS is reserved in a PML4 entry";
    }
    return "?";
}

// book:begin walk-table
// lab:begin walk-table
void PageTableWalker::walk_table(PageTableVisitor& visitor, PhysAddr frame, PageTableLevel level, VirtAddr base,
                                 uint64_t above_and, uint64_t above_or) {
    if (!visitor.enter_table({frame, level, base})) return;
    PageTable& table = *memory_.table_at(frame);
    for (unsigned i = 0; i < PageTableIndex::kCount; ++i) {
        PageTableEntry& entry = table.entries[i];
        const VirtAddr va = entry_va(base, level, i);
        if (!entry.present()) {
            if (entry.raw() != 0) visitor.stray_entry({StrayKind::kNotPresentNonZero, va, level, frame, &entry});
            continue;
        }
        if (level == PageTableLevel::kPml4 && entry.huge()) {
            visitor.stray_entry({StrayKind::kPsInPml4e, va, level, frame, &entry});
            continue;
        }
        // A PTE is always a leaf; above it, PS says the walk ends here. Never
        // descend through a PS entry: its address is a page, not a table.
        if (level == PageTableLevel::kPt || entry.huge()) {
            visitor.leaf({va, entry.page_address(level), leaf_page_size(level), level, entry.flags(level), above_and,
                          above_or, frame, &entry});
            continue;
        }
        const uint64_t flags = entry.flags(level);
        walk_table(visitor, entry.address(), next_lower(level), va, above_and & flags, above_or | flags);
    }
}
// lab:end walk-table
// book:end walk-table

void PageTableWalker::walk(PageTableVisitor& visitor) {
    walk_table(visitor, pml4_, PageTableLevel::kPml4, VirtAddr(0), ~uint64_t(0), 0);
}

Lookup PageTableWalker::translate(VirtAddr va) {
    Lookup out;
    if (!va.is_canonical()) return out;
    PhysAddr frame = pml4_;
    uint64_t above_and = ~uint64_t(0), above_or = 0;
    for (PageTableLevel level = PageTableLevel::kPml4;; level = next_lower(level)) {
        PageTableEntry& entry = (*memory_.table_at(frame))[index_at(va, level)];
        out.entry = &entry;
        out.level = level;
        if (!entry.present()) return out;
        if (level == PageTableLevel::kPml4 && entry.huge()) return out;  // the CPU faults here
        if (level == PageTableLevel::kPt || entry.huge()) {
            const PageSize size = leaf_page_size(level);
            out.present = true;
            out.leaf = {VirtAddr(align_down(va.value(), bytes(size))), entry.page_address(level), size, level,
                        entry.flags(level), above_and, above_or, frame, &entry};
            return out;
        }
        above_and &= entry.flags(level);
        above_or |= entry.flags(level);
        frame = entry.address();
    }
}

}  // namespace mm
