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
#include "memory_manager.h"
#include "mm/memory_map_log.h"
#include "kernel/panic.h"
#include "mm/phys_window.h"
#include "support/log.h"

namespace {

mm::BootMemory g_memory;          // in .bss: the range list is too big for the stack
mm::BootFrameAllocator g_frames;  // every page-table frame comes from here


}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::start_boot_memory(loader_handoff, g_memory, g_frames);

    MemoryManager memory(loader_handoff, g_memory, g_frames);
    memory.activate();
    mm::check_phys_window(g_memory.ranges, g_frames);
    const boot::BootHandoff& handoff = mm::remap_handoff(memory);  // loader_handoff is a low address: done with it
    mm::remove_identity_map(memory);
    mm::check_upper_half_only(handoff, g_memory, g_frames);
}
// book:end kernel-main
