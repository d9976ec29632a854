// Chapter 08: leave the lower half.
//
// Everything the loader handed over is still reached through the identity
// map. This chapter moves the handoff and the memory map to the phys-offset
// window, checking each at its new address before a pointer changes, and then
// removes the identity map: page 0 and the whole lower half are unmapped, and
// the kernel runs on upper-half addresses only.
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "kernel/kernel.h"
#include "mm/kernel/leave_lower_half.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/phys_window_check.h"
#include "07-temporary-window/memory_manager.h"
#include "mm/phys_window.h"

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(loader_handoff);

    chapter07::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    mm::remap_handoff(memory);  // loader_handoff is a low address: done with it
    mm::remove_identity_map(memory);
    mm::check_upper_half_only(memory);
}
// book:end kernel-main
