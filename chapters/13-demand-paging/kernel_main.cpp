// Chapter 13: demand paging — memory on first touch.
//
// Chapter 12's kernel, up to the programs: the same address space, verified,
// and the same ring-3 plumbing. What changes is how a program gets memory.
// Nothing of it is mapped before it runs: its ELF segments and its stack are
// regions, and each page comes on the first touch, from the page-fault path
// (zeroes, or the module's bytes); mmap, munmap and mprotect change the
// regions while it runs; on exit every frame and table goes back, and the
// allocator's count says so. The kernel reaches `ready` last.
#include "11-heap/memory_manager.h"
#include "boot/handoff.h"
#include "kernel/exception_tables.h"
#include "kernel/panic.h"
#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/demand_processes.h"
#include "mm/kernel/fault_reports.h"
#include "mm/kernel/frame_handover.h"
#include "mm/kernel/kernel_half.h"
#include "mm/kernel/kernel_heap.h"
#include "mm/kernel/kernel_stacks_phase.h"
#include "mm/kernel/leave_lower_half.h"
#include "mm/kernel/phys_window_check.h"

namespace {

mm::BitmapFrameAllocator g_steady;  // every frame after the handover, processes' included

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(loader_handoff);

    chapter11::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::install_fault_reports(intake.memory.ranges);
    kernel::install_exception_tables(mm::ist_stacks());
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    mm::leave_lower_half(memory);

    mm::hand_over_frames(memory, g_steady);
    mm::create_heap(memory, g_steady);
    mm::share_kernel_half(memory, g_steady);  // all 256 kernel PML4 slots: every process copies them

    const bool verified = memory.verify();
    memory.report();
    if (!verified) kernel::fail();

    mm::start_demand_paging();                          // chapter 12's ring 3, then mmap and first touch
    mm::run_boot_modules_on_demand(memory, g_steady);   // each program's pages arrive as it touches them
}
// book:end kernel-main
