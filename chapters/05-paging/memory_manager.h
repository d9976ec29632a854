// MemoryManager: the kernel's address space, built in the order the
// constructor reads.
//
// Each phase is one free function over the address space in common/mm/kernel,
// which contains nothing of another's logic, logs what it mapped and, on a
// refusal, has logged why and ends the boot (kernel::fail). The machinery every
// chapter shares — the PML4, the builder, how tables are reached, activate() —
// is mm::KernelAddressSpace (common/mm/kernel/address_space.h). A later
// chapter that adds phases derives its MemoryManager from its base chapter's
// (chapter06::MemoryManager from this one, and so on), so its constructor
// lists only the phases it adds; one that adds none uses its base's as it is.
#pragma once

#include "mm/kernel/address_space.h"

namespace chapter05 {

// book:begin memory-manager
class MemoryManager : public mm::KernelAddressSpace {
public:
    MemoryManager(const mm::HandoffView& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : KernelAddressSpace(handoff, memory, frames) {
        mm::identity_map_low_memory(*this);
        mm::map_kernel_image(*this);
        mm::map_phys_offset_regions(*this);
    }
};
// book:end memory-manager

}  // namespace chapter05
