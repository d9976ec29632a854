#include "bad_mappings.h"

#include "mm/address_space_layout.h"
#include "arch/x86/cpu.h"
#include "kernel/kernel.h"
#include "mm/kernel/linked_image.h"
#include "mm/page_table_walker.h"
#include "kernel/panic.h"
#include "support/log.h"

// The hooks work through the MemoryManager's public view of its tables
// (KernelAddressSpace: the builder, the tables through the window, the
// allocator), so the MemoryManager has no test-only API.
struct BadMappings {
    // What install() changed: one entry, whose old value puts the tables back
    // as they were; for wx and user also every table under that entry (a PML4
    // entry, empty before) and the frame the bad leaf maps.
    struct BadMapping {
        mm::PageTableEntry* entry = nullptr;
        mm::PageTableEntry before;
        bool tables_below_are_new = false;
        mm::PhysAddr spare_frame;  // null when none was taken
    };
    static BadMapping install(chapter09::MemoryManager& memory, Str how);
    // Puts back what install() changed: the entry's old value, a TLB flush,
    // then every frame it took given back to the allocator. Returns how many
    // frames went back.
    static uint64_t undo(chapter09::MemoryManager& memory, const BadMapping& bad);
};

// book:begin install-bad-mapping
// The test hook: each value breaks exactly one rule of the audit, the way a
// bug in a phase would, and the boot must then end with the failure code.
// It returns what it changed, so that test.bad-mapping=all can undo it.
BadMappings::BadMapping BadMappings::install(chapter09::MemoryManager& memory, Str how) {
    using namespace mm;
    klog::warn("verify").msg("installing a bad mapping on request").kv("kind", how);
    PageTableWalker walker(memory.root(), memory.tables());
    PageTable& root = *memory.tables().table_at(memory.root());
    const VirtAddr free_va = layout::kHeapBase;  // nothing maps the heap before chapter 11
    PageTableEntry& heap_slot = root[index_at(free_va, PageTableLevel::kPml4)];
    BadMapping bad;
    if (how == Str("wx") || how == Str("user")) {
        // A spare frame mapped as plain data (map_range accepts only sound
        // policies), then its leaf rewritten in place: W+X, or user-accessible.
        // The heap's PML4 slot is empty, so every table map_range makes is under it.
        KASSERT(heap_slot.raw() == 0);
        const FrameResult frame = memory.frames().alloc_frame();
        KASSERT(frame.ok());
        bad = {&heap_slot, heap_slot, true, frame.frame()};
        if (!memory.builder().map_range(free_va, frame.frame(), kPageSize, fit_to_cpu(kKernelDataPolicy, memory.cpu())).ok()) kernel::fail();
        const Lookup at = walker.translate(free_va);
        const uint64_t flags = how == Str("wx") ? x86::pte::kPresent | x86::pte::kWritable
                                                : leaf_flags::kKernelData | x86::pte::kUser;
        at.entry->set(PageTableLevel::kPt, frame.frame(), flags);
    } else if (how == Str("nonzero-entry")) {
        // The guard page past the image: not present, but not zero either.
        const Lookup at = walker.translate(kernel_image_guards(kernel::linked_image_layout()).above_image);
        KASSERT(!at.present && at.level == PageTableLevel::kPt);
        bad = {at.entry, *at.entry, false, PhysAddr()};
        *at.entry = PageTableEntry::from_raw(memory.root().value() | x86::pte::kWritable);
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

uint64_t BadMappings::undo(chapter09::MemoryManager& memory, const BadMapping& bad) {
    using namespace mm;
    TableFrames made;
    if (bad.tables_below_are_new) collect_tables_below(*bad.entry, PageTableLevel::kPml4, memory.tables(), made);
    *bad.entry = bad.before;
    // Before any frame goes back, no cached translation or table walk may
    // still reach it (nothing here is global).
    x86::write_cr3(x86::read_cr3());
    // In the reverse order of taking. A bump allocator takes frames back only
    // into its page-table reserve; the spare frame goes there too, since a
    // frame from the reserve is zeroed before it becomes a table.
    uint64_t returned = 0;
    for (size_t i = made.count; i-- > 0;) returned += memory.frames().return_page_table_frame(made.frames[i]);
    if (!bad.spare_frame.is_null()) returned += memory.frames().return_page_table_frame(bad.spare_frame);
    return returned;
}

namespace {

// Frames the kernel holds: handed out, and not back in the page-table reserve.
uint64_t frames_in_use(const mm::BootFrameAllocator& frames) {
    return frames.frames_handed_out() - frames.reserve_len();
}

// Every kind test.bad-mapping knows, in the order test.bad-mapping=all installs them.
constexpr Str kBadMappings[] = {"wx", "user", "nonzero-entry", "shared-table"};

// test.bad-mapping=all: each bad mapping in turn, through the same verify()
// as a single one, then undone (the entry restored, the TLB flushed, every
// frame it took given back). The tables must then verify clean again, with
// as many frames in use as before, or the sweep stops there: the next kind
// would be judged on tables it did not start from. Then the boot ends with
// the failure code, as one bad mapping ends it; one let through is an error.
[[noreturn]] void catch_every_bad_mapping(chapter09::MemoryManager& memory) {
    const mm::BootFrameAllocator& frames = memory.frames();
    const uint64_t in_use = frames_in_use(frames);
    klog::info("verify").msg("verifying before any bad mapping").kv("frames-in-use", in_use);
    if (!memory.verify()) kernel::fail();
    uint64_t accepted = 0;
    for (Str how : kBadMappings) {
        const BadMappings::BadMapping bad = BadMappings::install(memory, how);
        if (memory.verify()) {
            klog::error("verify").msg("bad mapping accepted").kv("kind", how);
            ++accepted;
        }
        const uint64_t returned = BadMappings::undo(memory, bad);
        klog::info("verify").msg("bad mapping undone").kv("kind", how).kv("frames-returned", returned)
            .kv("frames-in-use", frames_in_use(frames));
        if (frames_in_use(frames) != in_use || !memory.verify()) {
            klog::error("verify").msg("bad mapping not undone").kv("kind", how).kv("frames-in-use-before", in_use);
            kernel::fail();
        }
    }
    klog::info("verify").msg("every bad mapping tried")
        .kv("kinds", uint64_t(sizeof(kBadMappings) / sizeof(kBadMappings[0]))).kv("accepted", accepted);
    kernel::fail();
}

}  // namespace

void plant_requested_bad_mappings(chapter09::MemoryManager& memory) {
    const Str how = kernel::command_line().value("test.bad-mapping");
    if (how.empty()) return;
    if (how == Str("all")) catch_every_bad_mapping(memory);
    BadMappings::install(memory, how);
}
