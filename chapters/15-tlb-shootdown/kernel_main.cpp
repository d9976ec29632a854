// Chapter 15: TLB shootdown — more than one CPU.
//
// Chapter 14's kernel, on every CPU the firmware lists. The BSP reserves the
// real-mode trampoline page first, builds the same verified address space,
// then starts each application processor (INIT-SIPI-SIPI) on the kernel's
// own tables, each with its own stacks, GDT, TSS and GS base. Then the bug
// this chapter is about: a CPU that remaps a page and invalidates only its
// own TLB leaves another CPU reading the old frame. The fix is the
// shootdown: the unmap's flush token goes to every CPU that has the address
// space loaded, by IPI, and no frame is freed before each has answered. A
// scripted sequence of unmaps counts the IPIs and flushes. The kernel
// reaches `ready` last.
#include "11-heap/memory_manager.h"
#include "boot/handoff.h"
#include "kernel/exception_tables.h"
#include "kernel/panic.h"
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
    const mm::Trampoline trampoline = mm::reserve_trampoline(intake);  // below 1 MiB, before anything else

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

    mm::start_cpus(memory, memory.devices(), g_steady, trampoline);  // every AP on the kernel's tables
    mm::show_stale_read(memory, g_steady);      // another CPU's TLB: the old frame, then the shootdown
    mm::run_shootdown_script(memory, g_steady); // IPIs and flushes counted, step by step

    mm::start_copy_on_write(g_steady);                  // 13's ring 3 and first touch, counts, fork/yield/wait
    mm::prepare_cpus_for_ring3();                       // each AP's SYSCALL MSRs and TSS.RSP0, as the BSP's
    mm::run_processes_on_every_cpu();                   // each turn on the next CPU; idle CPUs keep the tables
    mm::run_boot_modules_with_fork(memory, g_steady);   // each program and the children it forks, in turn
}
// book:end kernel-main
