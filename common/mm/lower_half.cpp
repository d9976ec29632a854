#include "mm/lower_half.h"

#include "mm/page_table_index.h"

namespace mm {
namespace {

constexpr unsigned kLowerHalfEntries = 256;  // PML4 entries 0-255 map 0 .. 2^47 (PML5 entries: 0 .. 2^56)

// lab:begin remove-lower-half
void collect(PhysAddr table, PageTableLevel level, PhysicalMemoryAccess& memory, ReleasedTables& out) {
    if (out.count < ReleasedTables::kCapacity) out.frames[out.count] = table;
    ++out.count;
    if (level == PageTableLevel::kPt) return;
    PageTable& entries = *memory.table_at(table);
    for (unsigned i = 0; i < PageTableIndex::kCount; ++i) {
        const PageTableEntry e = entries[PageTableIndex(i)];
        if (e.present() && !e.huge()) collect(e.address(), next_lower(level), memory, out);
    }
}

}  // namespace

ReleasedTables remove_lower_half(PhysAddr pml4, PhysicalMemoryAccess& memory, PagingDepth depth) {
    ReleasedTables released;
    PageTable& top = *memory.table_at(pml4);
    for (unsigned i = 0; i < kLowerHalfEntries; ++i) {
        PageTableEntry& e = top[PageTableIndex(i)];
        if (!e.present()) continue;
        ++released.pml4_entries;
        collect(e.address(), next_lower(root_level(depth)), memory, released);
        e.clear();
    }
    return released;
}
// lab:end remove-lower-half

bool lower_half_is_empty(PhysAddr pml4, PhysicalMemoryAccess& memory) {
    PageTable& top = *memory.table_at(pml4);
    for (unsigned i = 0; i < kLowerHalfEntries; ++i)
        if (top[PageTableIndex(i)].raw() != 0) return false;
    return true;
}

}  // namespace mm
