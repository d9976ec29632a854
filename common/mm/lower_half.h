// Removing the lower half: every mapping below 0x0000800000000000 (the
// identity map of chapters 04-07, page 0 included) goes, in one step.
//
// The lower half hangs off PML4 entries 0-255, which the kernel's own
// mappings never use (they all live at 0xFFFF8… and above). Clearing those
// entries unmaps everything below them; the tables under them are collected
// so the caller can hand them back, because no walk can reach them any more.
// The caller must then flush the TLB (reload CR3: nothing of ours is global).
#pragma once

#include <stddef.h>

#include "mm/page_table_entry.h"
#include "mm/phys_addr.h"
#include "mm/paging_depth.h"
#include "mm/physical_memory.h"

namespace mm {

struct ReleasedTables {
    static constexpr size_t kCapacity = 64;
    PhysAddr frames[kCapacity];
    size_t count = 0;       // tables released (may exceed kCapacity)
    size_t pml4_entries = 0;  // lower-half PML4 entries that were present (PML5 entries at five levels)

    const PhysAddr* begin() const { return frames; }
    const PhysAddr* end() const { return frames + (count < kCapacity ? count : kCapacity); }
};

// Clears PML4 entries 0-255 of `pml4` after collecting every table below them
// (PDPTs, PDs, PTs; large pages are leaves, not tables).
ReleasedTables remove_lower_half(PhysAddr pml4, PhysicalMemoryAccess& memory);
// The same at `depth`: with 5 the root is a PML5, whose entries 0-255 map
// 0 .. 2^56, each over a PML4 that goes too (chapter 16).
ReleasedTables remove_lower_half(PhysAddr root, PhysicalMemoryAccess& memory, PagingDepth depth);

// True when entries 0-255 of the root (the PML4, or the PML5 at five levels)
// are all zero: nothing below the upper half.
bool lower_half_is_empty(PhysAddr root, PhysicalMemoryAccess& memory);

}  // namespace mm
