#include "mm/lower_half.h"

#include "mm/page_table_index.h"
#include "support/assert.h"

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

ReleasedTables remove_lower_half(PhysAddr pml4, PhysicalMemoryAccess& memory) {
    ReleasedTables released;
    PageTable& top = *memory.table_at(pml4);
    for (unsigned i = 0; i < kLowerHalfEntries; ++i) {
        PageTableEntry& e = top[PageTableIndex(i)];
        if (!e.present()) continue;
        ++released.pml4_entries;
        collect(e.address(), PageTableLevel::kPdpt, memory, released);
        e.clear();
    }
    return released;
}
// lab:end remove-lower-half

// Chapter 16: at five levels each lower-half PML5 entry names a PML4 whose
// whole 2^48 bytes are lower half. The identity map lies in that PML4's
// entries 0-255 (RAM ends far below 2^47), which chapter 08's removal takes;
// then the PML4 itself goes, and the PML5 entry is cleared.
ReleasedTables remove_lower_half(PhysAddr root, PhysicalMemoryAccess& memory, PagingDepth depth) {
    if (depth == PagingDepth::kFourLevel) return remove_lower_half(root, memory);
    ReleasedTables released;
    PageTable& top = *memory.table_at(root);
    for (unsigned i = 0; i < kLowerHalfEntries; ++i) {
        PageTableEntry& e = top[PageTableIndex(i)];
        if (!e.present()) continue;
        ++released.pml4_entries;  // top-level entries, whatever the top level
        PageTable& pml4 = *memory.table_at(e.address());
        for (unsigned j = kLowerHalfEntries; j < PageTableIndex::kCount; ++j)
            KASSERT(!pml4[PageTableIndex(j)].present());  // nothing of ours lies at 2^47 .. 2^48
        const ReleasedTables below = remove_lower_half(e.address(), memory);
        for (const PhysAddr frame : below) {
            if (released.count < ReleasedTables::kCapacity) released.frames[released.count] = frame;
            ++released.count;
        }
        released.count += below.count - (below.end() - below.begin());  // those past its capacity
        if (released.count < ReleasedTables::kCapacity) released.frames[released.count] = e.address();
        ++released.count;  // the PML4 itself
        e.clear();
    }
    return released;
}

bool lower_half_is_empty(PhysAddr root, PhysicalMemoryAccess& memory) {
    PageTable& top = *memory.table_at(root);
    for (unsigned i = 0; i < kLowerHalfEntries; ++i)
        if (top[PageTableIndex(i)].raw() != 0) return false;
    return true;
}

}  // namespace mm
