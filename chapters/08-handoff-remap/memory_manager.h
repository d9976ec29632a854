// MemoryManager: chapter 07's address space, built in the order the
// constructor reads. This chapter's two phases run after activate(), from
// kernel_main (common/mm/kernel/leave_lower_half.h): the handoff and the
// memory map move to the phys-offset window, then the identity map goes.
#pragma once

#include "mm/cpu_tlb.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/mmio_phases.h"
#include "mm/kernel/temporary_window_phase.h"
#include "mm/temporary_window.h"

class MemoryManager : public mm::KernelAddressSpace {
public:
    MemoryManager(const boot::BootHandoff& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : KernelAddressSpace(handoff, memory, frames) {
        mm::identity_map_low_memory(*this);
        mm::map_kernel_image(*this);
        mm::map_phys_offset_regions(*this);
        mm::program_pat(*this);
        devices_ = mm::map_mmio_devices(*this);
        mm::map_framebuffer(*this);
        mm::create_temporary_window(*this, tlb_, window_);
    }

    const mm::MmioDevices& devices() const { return devices_; }
    mm::TemporaryWindow& temporary_window() { return window_; }

private:
    mm::MmioDevices devices_;
    mm::CpuTlb tlb_;
    mm::TemporaryWindow window_;
};
