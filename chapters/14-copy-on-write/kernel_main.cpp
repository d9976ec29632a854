// Chapter 14: copy-on-write — cloning an address space.
//
// Chapter 13's kernel, up to the programs: the same address space, verified,
// the same ring 3, the same first touch. What changes is that a program may
// fork. Its child gets a clone of its address space in which every page is
// shared, read-only, until one side writes it; a write fault then copies
// that one page. Frames are counted per mapping beside the allocator, so a
// frame goes back only when its last mapping goes, and a cooperative
// scheduler runs parent and child in turn. The kernel reaches `ready` last.
#include "11-heap/memory_manager.h"
#include "boot/handoff.h"
#include "kernel/exception_tables.h"
#include "kernel/panic.h"
#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/fault_reports.h"
#include "mm/kernel/forking_processes.h"
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

    mm::start_copy_on_write(g_steady);                  // 13's ring 3 and first touch, counts, fork/yield/wait
    mm::run_boot_modules_with_fork(memory, g_steady);   // each program and the children it forks, in turn
}
// book:end kernel-main
