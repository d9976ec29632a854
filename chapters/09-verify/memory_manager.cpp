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
void MemoryManager::install_bad_mapping(Str how) {
    using namespace mm;
    klog::warn("verify").msg("installing a bad mapping on request").kv("kind", how);
    PageTableWalker walker(pml4(), tables());
    const VirtAddr free_va = layout::kHeapBase;  // nothing maps the heap before chapter 11
    if (how == Str("wx") || how == Str("user")) {
        // A spare frame mapped as plain data (map_range accepts only sound
        // policies), then its leaf rewritten in place: W+X, or user-accessible.
        const FrameResult frame = frames().alloc_frame();
        KASSERT(frame.ok());
        if (!builder().map_range(free_va, frame.frame(), kPageSize, fit_to_cpu(kKernelDataPolicy, cpu())).ok()) stop();
        const Lookup at = walker.translate(free_va);
        const uint64_t bad = how == Str("wx") ? x86::pte::kPresent | x86::pte::kWritable
                                              : leaf_flags::kKernelData | x86::pte::kUser;
        at.entry->set(PageTableLevel::kPt, frame.frame(), bad);
    } else if (how == Str("nonzero-entry")) {
        // The guard page past the image: not present, but not zero either.
        const Lookup at = walker.translate(kernel_image_guards(kernel::linked_image_layout()).above_image);
        KASSERT(!at.present && at.level == PageTableLevel::kPt);
        *at.entry = PageTableEntry::from_raw(pml4().value() | x86::pte::kWritable);
    } else if (how == Str("shared-table")) {
        // The heap's PML4 slot pointed at the MMIO window's PDPT: one table, two paths.
        PageTable& root = *tables().table_at(pml4());
        root[index_at(free_va, PageTableLevel::kPml4)] = root[index_at(layout::kMmioWindowBase, PageTableLevel::kPml4)];
    } else {
        kernel::panic("unknown test.bad-mapping value");
    }
    // Live entries changed: drop every cached translation (nothing here is global).
    x86::write_cr3(x86::read_cr3());
}
// book:end install-bad-mapping
