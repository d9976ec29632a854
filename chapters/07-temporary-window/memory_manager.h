// MemoryManager: chapter 06's address space (its constructor runs the phases
// of chapters 05 and 06 first), plus this chapter's phase: the temporary
// window, one fixed page through which any frame can be seen, whose page
// table exists from the start so that mapping through it never allocates.
#pragma once

#include "06-mmio/memory_manager.h"
#include "mm/cpu_tlb.h"
#include "mm/kernel/temporary_window_phase.h"
#include "mm/temporary_window.h"

namespace chapter07 {

// book:begin memory-manager
class MemoryManager : public chapter06::MemoryManager {
public:
    MemoryManager(const mm::HandoffView& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : chapter06::MemoryManager(handoff, memory, frames) {
        mm::create_temporary_window(*this, tlb_, window_);
    }

    mm::TemporaryWindow& temporary_window() { return window_; }
    const mm::CpuTlb& tlb() const { return tlb_; }

private:
    mm::CpuTlb tlb_;
    // The slot's page table is made before the switch; from then on the
    // window only rewrites one entry of it, with an invlpg each time.
    mm::TemporaryWindow window_;
};
// book:end memory-manager

}  // namespace chapter07
