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

    plant_requested_bad_mappings(memory);  // fault injection, beside the story: bad_mappings.cpp
    const bool verified = memory.verify();
    memory.report();  // also after a failure: the ranges show what is wrong
    if (!verified) kernel::fail();
}
// book:end kernel-main
