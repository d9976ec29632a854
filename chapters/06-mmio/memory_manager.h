// MemoryManager: the kernel's address space, built in the order the
// constructor reads (chapter 05), plus this chapter's three phases: the PAT,
// the devices' registers, and the framebuffer.
#pragma once

#include "kernel/address_space.h"
#include "mmio_map.h"

// book:begin memory-manager
class MemoryManager : public mm::KernelAddressSpace {
public:
    MemoryManager(const boot::BootHandoff& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : KernelAddressSpace(handoff, memory, frames) {
        identity_map_low_memory();
        map_kernel_image();
        map_phys_offset_regions();
        program_pat();
        map_mmio_devices();
        map_framebuffer();
    }

    // Where map_mmio_devices() put the device registers (null when absent).
    const mm::MmioDevices& devices() const { return devices_; }

private:
    void program_pat();
    void map_mmio_devices();
    void map_framebuffer();

    mm::MmioDevices devices_;
};
// book:end memory-manager
