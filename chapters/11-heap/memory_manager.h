// MemoryManager: chapter 10's address space, built by the same phases. This
// chapter's two phases run from kernel_main once the kernel has left the
// lower half (common/mm/kernel/frame_handover.h, kernel_heap.h): the frames
// handed over from the boot allocator to a bitmap that can take them back,
// and the kernel heap at its window, grown through PageTableBuilder with
// frames from the bitmap. What changes here is what chapter 09's
// verification expects: the heap is mapped now, as far as it has grown.
#pragma once

#include "10-page-faults/memory_manager.h"
#include "mm/kernel/kernel_heap.h"

namespace chapter11 {

class MemoryManager : public chapter10::MemoryManager {
public:
    using chapter10::MemoryManager::MemoryManager;

protected:
    // book:begin expected-regions
    // The heap: its guard absent, what it has grown to mapped RW+NX (to any
    // frames: they come one by one from the bitmap), the rest not yet mapped.
    void expect_phases(mm::ExpectedRegions& out) override {
        using namespace mm;
        chapter10::MemoryManager::expect_phases(out);
        const uint64_t heap_end = kernel_heap().mapped_end();
        out.add(expect_absent("heap-guard", kHeapGuard, kPageSize));
        out.add(expect_mapped_anywhere("heap", kHeapStart, heap_end - kHeapStart.value(), fit_to_cpu(kHeapPolicy, cpu())));
        out.add(expect_absent("heap-unmapped", VirtAddr(heap_end), layout::kHeapBase + layout::kHeapWindowSize - VirtAddr(heap_end)));
    }

    // Nothing else: the lower half is gone (chapter 08) and the temporary
    // window is idle between uses.
    void expect_nothing_else(mm::ExpectedRegions& out) override {
        using namespace mm;
        out.add(expect_absent("lower-half", VirtAddr(0), uint64_t(1) << 47));
        out.add(expect_absent("temporary-window", temporary_window().slot(), kPageSize));
    }
    // book:end expected-regions
};

}  // namespace chapter11
