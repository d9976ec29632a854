// MemoryManager: the kernel's address space, built in the order the
// constructor reads (chapter 05), plus this chapter's three phases: the PAT,
// the devices' registers, and the framebuffer.
#pragma once

#include "kernel/address_space.h"
#include "kernel/mmio_phases.h"

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
    // This chapter's phases (common/mm/kernel/mmio_phases.h).
    void program_pat() { mm::program_pat_phase(); }
    void map_mmio_devices() { devices_ = mm::map_mmio_devices_phase(builder(), handoff(), memory().ranges, cpu()); }
    void map_framebuffer() { mm::map_framebuffer_phase(builder(), handoff(), cpu()); }

    mm::MmioDevices devices_;
};
// book:end memory-manager
