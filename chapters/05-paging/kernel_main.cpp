// Chapter 05: a window on all of physical memory.
//
// Chapter 04 built the kernel's first tables by hand-calling two phases. Here
// the MemoryManager's constructor is the boot sequence, and a third phase maps
// every byte of RAM a second time, at 0xFFFF800000000000 + its physical
// address: the phys-offset window every later chapter reaches memory through.
// A self-check then proves the window shows the same bytes as the identity map.
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "kernel/kernel.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/phys_window_check.h"
#include "memory_manager.h"
#include "support/log.h"

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(handoff);

    chapter05::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    klog::info("frames").msg("page tables").kv("frames", memory.stats().tables_created + 1)
        .kv("handed-out", intake.frames.frames_handed_out()).kv("reserve-left", uint64_t(intake.frames.reserve_len()));
}
// book:end kernel-main
