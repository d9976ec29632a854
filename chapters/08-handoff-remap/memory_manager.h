// MemoryManager: the kernel's address space, built in the order the
// constructor reads (see chapter 05), plus the two phases this chapter adds.
// They run after activate(): the handoff and the memory map move to the
// phys-offset window, then the identity map goes.
#pragma once

#include "kernel/address_space.h"

class MemoryManager : public mm::KernelAddressSpace {
public:
    MemoryManager(const boot::BootHandoff& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : KernelAddressSpace(handoff, memory, frames) {
        identity_map_low_memory();
        map_kernel_image();
        map_phys_offset_regions();
    }

    // The handoff and the memory-map buffer, re-addressed through the window
    // and checked there; returns the handoff at its new address, which is the
    // only one to use from now on.
    const boot::BootHandoff& remap_handoff();

    // Removes the identity map: every lower-half mapping, page 0 included.
    // Only after remap_handoff(), when nothing uses a low address any more.
    void remove_identity_map();
};
