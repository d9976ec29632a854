#include "memory_manager.h"

#include "mm/address_space_layout.h"
#include "mm/kernel/kernel_heap.h"
#include "mm/kernel/kernel_stacks_phase.h"

// ---- chapter 09: verify (chapter 10: the kernel stacks' regions; 11: the heap's) ---

// book:begin expected-regions
void MemoryManager::expected_regions(mm::ExpectedRegions& out) {
    using namespace mm;
    // What chapters 04-08 mapped: the image, the window, the devices, the framebuffer.
    expect_mapped_regions(out, handoff(), memory().ranges, cpu(), devices_);
    // The kernel stacks (chapter 10): each RW+NX, its guard below it absent.
    expect_kernel_stacks(out, cpu());
    // The heap: its guard absent, what it has grown to mapped RW+NX (to any
    // frames: they come one by one from the bitmap), the rest not yet mapped.
    const uint64_t heap_end = kernel_heap().mapped_end();
    out.add(expect_absent("heap-guard", kHeapGuard, kPageSize));
    out.add(expect_mapped_anywhere("heap", kHeapStart, heap_end - kHeapStart.value(), fit_to_cpu(kHeapPolicy, cpu())));
    out.add(expect_absent("heap-unmapped", VirtAddr(heap_end), layout::kHeapBase + layout::kHeapWindowSize - VirtAddr(heap_end)));
    // Nothing else: the lower half is gone (chapter 08) and the temporary
    // window is idle between uses.
    out.add(expect_absent("lower-half", VirtAddr(0), uint64_t(1) << 47));
    out.add(expect_absent("temporary-window", window_.slot(), kPageSize));
}
// book:end expected-regions

bool MemoryManager::verify() {
    mm::ExpectedRegions expected;
    expected_regions(expected);
    return mm::verify_address_space(pml4(), tables(), expected, cpu());
}

void MemoryManager::report() { mm::report_address_space(pml4(), tables(), handoff()); }
