// MemoryManager: chapter 11's address space (through chapters 12-14, which
// add no phase), at the depth the CPU runs. KernelAddressSpace builds a PML5
// when CR4.LA57 is on (follow_paging_depth, called first in kernel_main), and
// every phase maps the same addresses into it: each 48-bit address is a
// 57-bit one with PML5 index 0 (the identity map, then the processes) or 511
// (everything the kernel keeps). What changes for chapter 09's verification
// is the lower half: at five levels it ends at 2^56, not 2^47.
#pragma once

#include "11-heap/memory_manager.h"
#include "mm/address_space_layout.h"

namespace chapter16 {

class MemoryManager : public chapter11::MemoryManager {
public:
    using chapter11::MemoryManager::MemoryManager;

protected:
    // book:begin expected-regions
    // Nothing else: the lower half, as deep as the tables reach, is gone
    // (chapter 08), and the temporary window is idle between uses.
    void expect_nothing_else(mm::ExpectedRegions& out) override {
        using namespace mm;
        const uint64_t lower_half_end = depth() == PagingDepth::kFiveLevel ? layout::five_level::kLowerHalfEnd.value()
                                                                          : uint64_t(1) << 47;
        out.add(expect_absent("lower-half", VirtAddr(0), lower_half_end));
        out.add(expect_absent("temporary-window", temporary_window().slot(), kPageSize));
    }
    // book:end expected-regions
};

}  // namespace chapter16
