// Leaving the lower half (chapter 08): the phases that move the last users of
// the identity map to the phys-offset window and then remove it, and the
// check that the kernel lives on upper-half addresses only afterwards. Each
// logs what it did; a refusal is logged and stops the boot.
#pragma once

#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "mm/kernel/address_space.h"
#include "mm/phys_window.h"

namespace mm {

// The handoff and the memory-map buffer, re-addressed through the window and
// checked there (check_remapped_buffer); the runtime's handoff pointer and the
// memory map's descriptor view switch to the window, and so does the address
// space's. Returns the handoff at its new address, the only one to use from
// then on. Only after KernelAddressSpace::activate(): tables are reached
// through the window.
const boot::BootHandoff& remap_handoff(KernelAddressSpace& space);

// Removes every lower-half mapping (page 0 included), flushes the TLB, and
// returns the released table frames to the allocator's reserve. Only after
// remap_handoff(), when nothing uses a low address any more.
void remove_identity_map(KernelAddressSpace& space);

// After the removal: the memory map, validated again at its window address,
// normalises to the same ranges; the command line reads through the handoff.
void check_upper_half_only(const boot::BootHandoff& handoff, const BootMemory& memory, const BootFrameAllocator& frames);

// Chapter 08's three steps as one, for the chapters after it: remap_handoff,
// remove_identity_map, check_upper_half_only. Returns the handoff at its
// window address, as remap_handoff does.
const boot::BootHandoff& leave_lower_half(KernelAddressSpace& space);

}  // namespace mm
