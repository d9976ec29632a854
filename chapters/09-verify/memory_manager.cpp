#include "memory_manager.h"

#include "address_space_layout.h"
#include "arch/x86/cpu.h"
#include "kernel.h"
#include "linked_image.h"
#include "page_table_walker.h"
#include "panic.h"
#include "support/log.h"

// ---- chapter 09: verify ------------------------------------------------------

// book:begin expected-regions
void MemoryManager::expected_regions(mm::ExpectedRegions& out) {
    using namespace mm;
    // What chapters 04-08 mapped: the image, the window, the devices, the framebuffer.
    expect_mapped_regions(out, handoff(), memory().ranges, cpu(), devices_);
    // Nothing else: the lower half is gone (chapter 08), the heap is not there
    // yet (chapter 11), and the temporary window is idle between uses.
    out.add(expect_absent("lower-half", VirtAddr(0), uint64_t(1) << 47));
    out.add(expect_absent("heap", layout::kHeapBase, layout::kHeapWindowSize));
    out.add(expect_absent("temporary-window", window_.slot(), kPageSize));
}
// book:end expected-regions

bool MemoryManager::verify() {
    mm::ExpectedRegions expected;
    expected_regions(expected);
    return mm::verify_address_space(pml4(), tables(), expected, cpu());
}

void MemoryManager::report() { mm::report_address_space(pml4(), tables(), handoff()); }

// book:begin install-bad-mapping
// The test hook: each value breaks exactly one rule of the audit, the way a
// bug in a phase would, and the boot must then end with the failure code.
// It returns what it changed, so that test.bad-mapping=all can undo it.
MemoryManager::BadMapping MemoryManager::install_bad_mapping(Str how) {
    using namespace mm;
    klog::warn("verify").msg("installing a bad mapping on request").kv("kind", how);
    PageTableWalker walker(pml4(), tables());
    PageTable& root = *tables().table_at(pml4());
    const VirtAddr free_va = layout::kHeapBase;  // nothing maps the heap before chapter 11
    PageTableEntry& heap_slot = root[index_at(free_va, PageTableLevel::kPml4)];
    BadMapping bad;
    if (how == Str("wx") || how == Str("user")) {
        // A spare frame mapped as plain data (map_range accepts only sound
        // policies), then its leaf rewritten in place: W+X, or user-accessible.
        // The heap's PML4 slot is empty, so every table map_range makes is under it.
        KASSERT(heap_slot.raw() == 0);
        const FrameResult frame = frames().alloc_frame();
        KASSERT(frame.ok());
        bad = {&heap_slot, heap_slot, true, frame.frame()};
        if (!builder().map_range(free_va, frame.frame(), kPageSize, fit_to_cpu(kKernelDataPolicy, cpu())).ok()) stop();
        const Lookup at = walker.translate(free_va);
        const uint64_t flags = how == Str("wx") ? x86::pte::kPresent | x86::pte::kWritable
                                                : leaf_flags::kKernelData | x86::pte::kUser;
        at.entry->set(PageTableLevel::kPt, frame.frame(), flags);
    } else if (how == Str("nonzero-entry")) {
        // The guard page past the image: not present, but not zero either.
        const Lookup at = walker.translate(kernel_image_guards(kernel::linked_image_layout()).above_image);
        KASSERT(!at.present && at.level == PageTableLevel::kPt);
        bad = {at.entry, *at.entry, false, PhysAddr()};
        *at.entry = PageTableEntry::from_raw(pml4().value() | x86::pte::kWritable);
    } else if (how == Str("shared-table")) {
        // The heap's PML4 slot pointed at the MMIO window's PDPT: one table, two paths.
        bad = {&heap_slot, heap_slot, false, PhysAddr()};
        heap_slot = root[index_at(layout::kMmioWindowBase, PageTableLevel::kPml4)];
    } else {
        kernel::panic("unknown test.bad-mapping value");
    }
    // Live entries changed: drop every cached translation (nothing here is global).
    x86::write_cr3(x86::read_cr3());
    return bad;
}
// book:end install-bad-mapping

namespace {

// The tables below `entry`, an entry of a table at `level`, parents first.
struct TableFrames {
    static constexpr size_t kCapacity = 3;  // one 4 KiB page under an empty PML4 slot: PDPT, PD, PT
    mm::PhysAddr frames[kCapacity];
    size_t count = 0;
};
void collect_tables_below(mm::PageTableEntry entry, mm::PageTableLevel level, mm::PhysicalMemoryAccess& memory,
                          TableFrames& out) {
    using namespace mm;
    if (level == PageTableLevel::kPt || !entry.present() || entry.huge()) return;  // a page, or nothing
    KASSERT(out.count < TableFrames::kCapacity);
    out.frames[out.count++] = entry.address();
    const PageTable& table = *memory.table_at(entry.address());
    for (unsigned i = 0; i < PageTableIndex::kCount; ++i)
        collect_tables_below(table[PageTableIndex(i)], next_lower(level), memory, out);
}

}  // namespace

uint64_t MemoryManager::undo_bad_mapping(const BadMapping& bad) {
    using namespace mm;
    TableFrames made;
    if (bad.tables_below_are_new) collect_tables_below(*bad.entry, PageTableLevel::kPml4, tables(), made);
    *bad.entry = bad.before;
    // Before any frame goes back, no cached translation or table walk may
    // still reach it (nothing here is global).
    x86::write_cr3(x86::read_cr3());
    // In the reverse order of taking. A bump allocator takes frames back only
    // into its page-table reserve; the spare frame goes there too, since a
    // frame from the reserve is zeroed before it becomes a table.
    uint64_t returned = 0;
    for (size_t i = made.count; i-- > 0;) returned += frames().return_page_table_frame(made.frames[i]);
    if (!bad.spare_frame.is_null()) returned += frames().return_page_table_frame(bad.spare_frame);
    return returned;
}
