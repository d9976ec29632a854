// Leaving the lower half (chapter 08): the phases that move the last users of
// the identity map to the phys-offset window and then remove it, and the
// check that the kernel lives on upper-half addresses only afterwards. Each
// logs what it did; a refusal is logged and stops the boot.
#pragma once

#include "mm/kernel/address_space.h"
#include "mm/phys_window.h"

namespace mm {

// The handoff and the memory-map buffer, re-addressed through the window and
// checked there (check_remapped_buffer); the runtime's handoff pointer (the
// only one: phases read the intake's typed view, whose physical addresses do
// not move) and the memory map's descriptor view switch to the window. Only
// after KernelAddressSpace::activate(): tables are reached through the window.
void remap_handoff(KernelAddressSpace& space);

// Removes every lower-half mapping (page 0 included), flushes the TLB, and
// returns the released table frames to the allocator's reserve. Only after
// remap_handoff(), when nothing uses a low address any more.
void remove_identity_map(KernelAddressSpace& space);

// After the removal: the memory map, validated again at its window address
// with the runtime's handoff, normalises to the same ranges; the command line
// reads through the handoff.
void check_upper_half_only(KernelAddressSpace& space);

// Chapter 08's three steps as one, for the chapters after it: remap_handoff,
// remove_identity_map, check_upper_half_only.
void leave_lower_half(KernelAddressSpace& space);

}  // namespace mm
