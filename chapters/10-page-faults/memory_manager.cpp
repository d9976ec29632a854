#include "memory_manager.h"

#include "mm/address_space_layout.h"
#include "mm/kernel/kernel_stacks_phase.h"

// ---- chapter 09: verify (chapter 10: the kernel stacks' regions) ---

// book:begin expected-regions
void MemoryManager::expected_regions(mm::ExpectedRegions& out) {
    using namespace mm;
    // What chapters 04-08 mapped: the image, the window, the devices, the framebuffer.
    expect_mapped_regions(out, handoff(), memory().ranges, cpu(), devices_);
    // The kernel stacks (chapter 10): each RW+NX, its guard below it absent.
    expect_kernel_stacks(out, cpu());
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
