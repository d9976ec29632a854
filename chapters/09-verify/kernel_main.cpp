// Chapter 09: verify the address space.
//
// Chapter 08's kernel builds its address space and leaves the lower half.
// This one then reads its own live tables back through the phys-offset
// window, with one walker: every region is held against what its phase meant
// to map (frames, rights, memory type, page sizes; guard pages absent), every
// entry against the rules no kernel page may break (W^X, no user page, no
// stale non-present entry, no table reachable twice), and the whole is
// printed as merged ranges. A broken rule is named and ends the boot with the
// failure code.
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "kernel/kernel.h"
#include "mm/kernel/leave_lower_half.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/phys_window_check.h"
#include "bad_mappings.h"
#include "memory_manager.h"
#include "kernel/panic.h"
#include "mm/phys_window.h"

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(loader_handoff);

    chapter09::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    mm::leave_lower_half(memory);  // chapter 08: loader_handoff is a low address, done with it

    plant_requested_bad_mappings(memory);  // fault injection, beside the story: bad_mappings.cpp
    const bool verified = memory.verify();
    memory.report();  // also after a failure: the ranges show what is wrong
    if (!verified) kernel::fail();
}
// book:end kernel-main
