// load_boot_memory: the one call every chapter from 02 on starts with.
//
// Validates the handoff and its memory map, normalises the map into ranges,
// sets the framebuffer aside in them, and checks that everything the loader placed for the kernel lies in memory
// of its own loader-owned type. Only then may anything allocate.
#pragma once

#include "boot/handoff.h"
#include "mm/handoff_validation.h"
#include "mm/memory_descriptor_view.h"
#include "mm/memory_ranges.h"

namespace mm {

struct BootMemory {
    MemoryDescriptorView descriptors;
    MemoryRangeList ranges;
    LoaderObject loader_objects[kLoaderObjectCount];
};

// The GOP framebuffer's frames, set aside in `ranges` as kFramebuffer whatever
// the map called them. Some firmware (integrated GPUs, QEMU's ramfb) puts the
// framebuffer in RAM it lists as conventional, boot-services data or
// reserved; chapter 06 maps it write-combining, so no frame of it may also be
// handed out by a frame allocator or mapped write-back as RAM (one memory type
// per frame, SDM Vol. 3A 11.12.4). Deciding it here, in the list every later
// user reads, keeps it out of both from the first allocation on.
Violation set_aside_framebuffer(const boot::BootHandoff& handoff, MemoryRangeList* ranges);

// `handoff_address`: where the handoff itself lives; `map`: where the kernel
// can read the descriptors (see validate_handoff). The first broken rule is
// returned; `out` is only meaningful when the result is ok().
Violation load_boot_memory(const boot::BootHandoff& handoff, PhysAddr handoff_address, const uint8_t* map,
                           BootMemory* out);

}  // namespace mm
