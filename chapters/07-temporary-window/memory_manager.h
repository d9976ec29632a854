// MemoryManager: chapter 06's address space, built in the order the
// constructor reads, plus this chapter's phase: the temporary window, one
// fixed page through which any frame can be seen, whose page table exists
// from the start so that mapping through it never allocates.
#pragma once

#include "mm/cpu_tlb.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/mmio_phases.h"
#include "mm/kernel/temporary_window_phase.h"
#include "mm/temporary_window.h"

// book:begin memory-manager
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
    const mm::CpuTlb& tlb() const { return tlb_; }

private:
    mm::MmioDevices devices_;
    mm::CpuTlb tlb_;
    // The slot's page table is made before the switch; from then on the
    // window only rewrites one entry of it, with an invlpg each time.
    mm::TemporaryWindow window_;
};
// book:end memory-manager
