// Chapter 12: user space — the lower half, one program at a time.
//
// Chapter 11's kernel builds its address space, leaves the lower half empty,
// hands its frames to the bitmap and starts the heap. This one then gives
// every one of the 256 upper PML4 slots a table, so that a process's PML4
// can share the kernel's half by copying 256 entries, and verifies the
// address space as chapter 09 does. Then it runs the programs the loader
// read from \user\ (boot modules): each in an address space of its own,
// mapped from its ELF, entered with SYSRET in ring 3, served through SYSCALL,
// and ended by its exit or by the first rule it breaks; its frames go back
// to the bitmap, and the next one runs. The kernel reaches `ready` last.
#include "11-heap/memory_manager.h"
#include "boot/handoff.h"
#include "kernel/exception_tables.h"
#include "kernel/panic.h"
#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/fault_reports.h"
#include "mm/kernel/frame_handover.h"
#include "mm/kernel/kernel_half.h"
#include "mm/kernel/kernel_heap.h"
#include "mm/kernel/kernel_stacks_phase.h"
#include "mm/kernel/leave_lower_half.h"
#include "mm/kernel/phys_window_check.h"
#include "mm/kernel/processes.h"

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

    mm::start_user_mode();                    // GDT user segments, SYSCALL/SYSRET, ring-3 faults
    mm::run_boot_modules(memory, g_steady);   // each program in its own address space, then freed
}
// book:end kernel-main
