#include "mm/kernel/kernel_half.h"

#include "arch/x86/paging_bits.h"
#include "mm/mapping_policy.h"
#include "mm/page_table_index.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace mm {

// book:begin share-kernel-half
void share_kernel_half(KernelAddressSpace& space, BitmapFrameAllocator& frames) {
    PhysicalMemoryAccess& tables = space.tables();
    PageTable& root = *tables.table_at(space.root());  // the PML4 (chapter 16: a PML5): its upper 256 entries
    uint64_t present_before = 0, created = 0;
    for (unsigned slot = 256; slot < PageTableIndex::kCount; ++slot) {
        PageTableEntry& entry = root.entries[slot];
        if (entry.present()) {
            ++present_before;
            continue;
        }
        const FrameResult frame = frames.alloc_page_table_frame();
        if (!frame.ok()) {
            klog::error("paging").msg("phase share_kernel_half failed").kv("slot", uint64_t(slot))
                .kv("rule", "every upper-half slot of the top table needs a table before the first process");
            kernel::fail();
        }
        PageTable& next = *tables.table_at(frame.frame());  // a PDPT (chapter 16: a PML4)
        for (PageTableEntry& e : next.entries) e.clear();  // zeroed before it is installed
        entry.set(root_level(space.depth()), frame.frame(), kTableEntryFlags);  // supervisor-only, like every kernel table
        ++created;
    }
    // Only empty entries became present: no translation changed, nothing to flush.
    klog::info("paging").msg("phase share_kernel_half").kv("slots", uint64_t(256))
        .kv("present-before", present_before).kv("tables", created).kv("frames-from", "bitmap");
}
// book:end share-kernel-half

}  // namespace mm
