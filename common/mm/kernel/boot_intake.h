// start_boot_memory: how every kernel from chapter 03 on begins.
//
// The handoff's memory map is validated and normalised (load_boot_memory,
// chapter 02), read through the identity map the loader left; the ranges are
// logged; the boot frame allocator (chapter 03) starts on them. A rejected
// handoff is logged with its field, value and rule, and stops the boot.
#pragma once

#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"

namespace mm {

void start_boot_memory(const boot::BootHandoff& handoff, BootMemory& memory, BootFrameAllocator& frames);

}  // namespace mm
