// MemoryManager: chapter 05's address space (its constructor runs chapter
// 05's phases first), plus this chapter's three phases: the PAT, the
// devices' registers, and the framebuffer.
#pragma once

#include "05-paging/memory_manager.h"
#include "mm/kernel/mmio_phases.h"

namespace chapter06 {

// book:begin memory-manager
class MemoryManager : public chapter05::MemoryManager {
public:
    MemoryManager(const mm::HandoffView& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : chapter05::MemoryManager(handoff, memory, frames) {
        mm::program_pat(*this);
        devices_ = mm::map_mmio_devices(*this);
        mm::map_framebuffer(*this);
    }

    // Where map_mmio_devices() put the device registers (null when absent).
    const mm::MmioDevices& devices() const { return devices_; }

private:
    mm::MmioDevices devices_;
};
// book:end memory-manager

}  // namespace chapter06
