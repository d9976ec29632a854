// Chapter 10: page faults, reported.
//
// Chapter 09's kernel (its address space verified), plus stacks of its own for the exceptions that must
// work when the current stack does not: #DF, #PF, NMI and #MC each get a
// 16 KiB stack with an unmapped guard page below it, named in a TSS, and the
// IDT's gates switch to them. Every exception now ends in a decoded report:
// a page fault says what the error code means and what lies at CR2 (the null
// page, the guard page of which stack, kernel text or rodata, an NX page, a
// hole in the phys-offset window), a #GP decodes the faulting instruction's
// address, a #DF says where the interrupted stack pointer was.
//
// The faults themselves, made on request, are in faults_on_request.cpp.
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "faults_on_request.h"
#include "kernel/kernel.h"
#include "mm/kernel/boot_intake.h"
#include "kernel/exception_tables.h"
#include "mm/kernel/fault_reports.h"
#include "mm/kernel/kernel_stacks_phase.h"
#include "mm/kernel/leave_lower_half.h"
#include "mm/kernel/phys_window_check.h"
#include "memory_manager.h"
#include "kernel/panic.h"


// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(loader_handoff);

    chapter10::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::install_fault_reports(intake.memory.ranges);
    kernel::install_exception_tables(mm::ist_stacks());  // the stacks are in the live tables now: TSS, IST gates
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    mm::leave_lower_half(memory);  // chapter 08: loader_handoff is a low address, done with it
    const bool verified = memory.verify();  // the kernel stacks and their guards included
    memory.report();  // also after a failure: the ranges show what is wrong
    if (!verified) kernel::fail();

    fault_on_request::fault_if_requested(intake.memory.ranges);  // test.fault: faults_on_request.cpp
}
// book:end kernel-main
