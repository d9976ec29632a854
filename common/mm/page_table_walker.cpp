#include "mm/page_table_walker.h"

namespace mm {

const char* describe(StrayKind kind) {
    switch (kind) {
        case StrayKind::kNotPresentNonZero: return "every non-present entry must be zero";
        case StrayKind::kPsInPml4e: return "PS is reserved in a PML4 entry";
        case StrayKind::kPsInPml5e: return "PS is reserved in a PML5 entry";
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
        if (!can_be_leaf(level) && entry.huge()) {  // a PML4 or PML5 entry
            visitor.stray_entry({reserved_ps_stray(level), va, level, frame, &entry});
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
    walk_table(visitor, root_, root_level(depth_), VirtAddr(0), ~uint64_t(0), 0);
}

Lookup PageTableWalker::translate(VirtAddr va) {
    Lookup out;
    out.level = root_level(depth_);
    if (!va.is_canonical(depth_)) return out;
    PhysAddr frame = root_;
    uint64_t above_and = ~uint64_t(0), above_or = 0;
    for (PageTableLevel level = root_level(depth_);; level = next_lower(level)) {
        PageTableEntry& entry = (*memory_.table_at(frame))[index_at(va, level)];
        out.entry = &entry;
        out.level = level;
        if (!entry.present()) return out;
        if (!can_be_leaf(level) && entry.huge()) return out;  // PS in a PML4E/PML5E: the CPU faults here
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
