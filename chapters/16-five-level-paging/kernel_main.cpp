// Chapter 16: five-level paging — 57-bit addresses.
//
// Chapter 15's kernel, unchanged in what it maps and runs, at the depth the
// CPU was handed over at. With `paging=5` on the command line and a CPU that
// has LA57, the loader turned five-level paging on through its 32-bit
// trampoline before the jump; the kernel reads CR4.LA57, says so, and its
// tables get a PML5 on top: the kernel's regions under entry 511, each
// process's user half under entry 0. Every AP follows: its trampoline gets a
// PML5 too and sets CR4.LA57 before it turns paging on. Without LA57 the same
// image runs at four levels and the log says why. The kernel reaches `ready`
// last.
#include "boot/handoff.h"
#include "kernel/exception_tables.h"
#include "kernel/panic.h"
#include "memory_manager.h"
#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/ap_trampoline.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/cpu_startup.h"
#include "mm/kernel/fault_reports.h"
#include "mm/kernel/forking_processes.h"
#include "mm/kernel/frame_handover.h"
#include "mm/kernel/kernel_half.h"
#include "mm/kernel/kernel_heap.h"
#include "mm/kernel/kernel_stacks_phase.h"
#include "mm/kernel/leave_lower_half.h"
#include "mm/kernel/paging_depth.h"
#include "mm/kernel/phys_window_check.h"
#include "mm/kernel/process_cpus.h"
#include "mm/kernel/shootdown_script.h"
#include "mm/kernel/stale_read.h"

namespace {

mm::BitmapFrameAllocator g_steady;  // every frame after the handover, processes' included

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(loader_handoff);
    mm::follow_paging_depth();  // 4 or 5 levels, as CR4.LA57 says: the loader's choice (paging=5)
    const mm::Trampoline trampoline = mm::reserve_trampoline(intake);  // below 1 MiB, before anything else

    chapter16::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::install_fault_reports(intake.memory.ranges);
    kernel::install_exception_tables(mm::ist_stacks());
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    mm::leave_lower_half(memory);

    mm::hand_over_frames(memory, g_steady);
    mm::create_heap(memory, g_steady);
    mm::share_kernel_half(memory, g_steady);  // all 256 upper top-level slots: every process copies them

    const bool verified = memory.verify();
    memory.report();
    if (!verified) kernel::fail();

    mm::start_cpus(memory, memory.devices(), g_steady, trampoline);  // every AP on the kernel's tables
    mm::show_stale_read(memory, g_steady);      // another CPU's TLB: the old frame, then the shootdown
    mm::run_shootdown_script(memory, g_steady); // IPIs and flushes counted, step by step

    mm::start_copy_on_write(g_steady);                  // 13's ring 3 and first touch, counts, fork/yield/wait
    mm::prepare_cpus_for_ring3();                       // each AP's SYSCALL MSRs and TSS.RSP0, as the BSP's
    mm::run_processes_on_every_cpu();                   // each turn on the next CPU; idle CPUs keep the tables
    mm::run_boot_modules_with_fork(memory, g_steady);   // each program and the children it forks, in turn
}
// book:end kernel-main
