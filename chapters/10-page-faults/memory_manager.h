// MemoryManager: chapter 09's address space, built by the phases of chapters
// 05-07 and verified once complete, plus the phase this chapter adds: the
// kernel stacks, each with an unmapped guard page below it, for the IST of
// the exceptions that must work on a broken stack.
#pragma once

#include "09-verify/memory_manager.h"
#include "mm/kernel/kernel_stacks_phase.h"

namespace chapter10 {

class MemoryManager : public chapter09::MemoryManager {
public:
    // book:begin phases
    MemoryManager(const mm::HandoffView& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : chapter09::MemoryManager(handoff, memory, frames) {
        mm::map_kernel_stacks(*this);
    }
    // book:end phases

protected:
    // book:begin expected-regions
    // Chapter 09's verification, now also of the kernel stacks: each RW+NX,
    // its guard below it absent.
    void expect_phases(mm::ExpectedRegions& out) override {
        chapter09::MemoryManager::expect_phases(out);
        mm::expect_kernel_stacks(out, cpu());
    }
    // book:end expected-regions
};

}  // namespace chapter10
