// MemoryManager: the kernel's address space, built in the order the
// constructor reads (chapter 05), plus this chapter's three phases: the PAT,
// the devices' registers, and the framebuffer.
#pragma once

#include "mm/kernel/address_space.h"
#include "mm/kernel/mmio_phases.h"

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
    }

    // Where map_mmio_devices() put the device registers (null when absent).
    const mm::MmioDevices& devices() const { return devices_; }

private:
    mm::MmioDevices devices_;
};
// book:end memory-manager
