// Chapter 11: the steady state — a frame allocator that takes frames back,
// and a kernel heap.
//
// Chapter 10's kernel builds its address space with stacks for the
// exceptions, reports every fault, and leaves the lower half. This one then hands the frames over from the boot
// allocator (a cursor per region: it can only give) to a bitmap (one bit per
// frame: it can give and take back), which reclaims what UEFI boot services
// and the loader used. The heap starts at its window above a guard page and
// grows through the same PageTableBuilder as every phase, now fed by the
// bitmap; operator new and delete sit on it. A stress test of both must
// leave every counter where it was, and the address space is verified last
// with chapter 09's walk, heap and stacks included.
#include "mm/bitmap_frame_allocator.h"
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "fault_injection.h"
#include "heap_stress.h"
#include "kernel/kernel.h"
#include "mm/kernel/boot_intake.h"
#include "kernel/exception_tables.h"
#include "mm/kernel/fault_reports.h"
#include "mm/kernel/kernel_stacks_phase.h"
#include "mm/kernel/frame_handover.h"
#include "mm/kernel/kernel_heap.h"
#include "mm/kernel/leave_lower_half.h"
#include "mm/kernel/phys_window_check.h"
#include "memory_manager.h"
#include "kernel/panic.h"

namespace {

mm::BitmapFrameAllocator g_steady;    // and every frame after it from here

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(loader_handoff);

    chapter11::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::install_fault_reports(intake.memory.ranges);
    kernel::install_exception_tables(mm::ist_stacks());  // the stacks are in the live tables now: TSS, IST gates
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    mm::leave_lower_half(memory);  // chapter 08: loader_handoff is a low address, done with it

    mm::hand_over_frames(memory, g_steady);  // intake.frames is empty from here on
    mm::create_heap(memory, g_steady);       // operator new works from here on
    break_the_heap_if_requested(g_steady);  // test.heap-guard, test.bad-free: fault_injection.cpp
    run_stress_test(g_steady);

    const bool verified = memory.verify();
    memory.report();  // also after a failure: the ranges show what is wrong
    if (!verified) kernel::fail();
}
// book:end kernel-main
