// MemoryManager: the kernel's address space, built in the order the
// constructor reads.
//
// Each phase is one call into common/mm that contains nothing of another's
// logic and logs what it mapped; a refusal has been logged by the phase and
// stops the boot. The machinery every chapter shares — the PML4, the builder,
// how tables are reached, activate() — is mm::KernelAddressSpace
// (common/mm/kernel/address_space.h); what a chapter changes is this list.
#pragma once

#include "kernel/address_space.h"

// book:begin memory-manager
class MemoryManager : public mm::KernelAddressSpace {
public:
    MemoryManager(const boot::BootHandoff& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : KernelAddressSpace(handoff, memory, frames) {
        identity_map_low_memory();
        map_kernel_image();
        map_phys_offset_regions();
    }
};
// book:end memory-manager
