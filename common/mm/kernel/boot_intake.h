// start_boot_memory: how every kernel from chapter 04 on begins.
//
// The handoff's memory map is validated and normalised (load_boot_memory,
// chapter 02), read through the identity map the loader left; the ranges are
// logged; the boot frame allocator (chapter 03) starts on them. A rejected
// handoff is logged with its field, value and rule, and stops the boot. What
// the kernel uses of the accepted handoff is typed once, here (handoff_view.h).
#pragma once

#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "mm/kernel/handoff_view.h"

namespace mm {

// What the kernel knows of memory before it builds a table: the handoff's
// fields it uses, the memory map, and the allocator every page-table frame
// comes from until chapter 11's handover.
struct BootIntake {
    HandoffView handoff;
    BootMemory memory;
    BootFrameAllocator frames;
};

// Fills the kernel's one BootIntake (in .bss: the range list is too big for
// the stack) from the handoff and returns it. Called once, first thing.
BootIntake& start_boot_memory(const boot::BootHandoff& handoff);

}  // namespace mm
