// PerCpu: what each CPU keeps of its own, reached through GS (chapter 15).
//
// Every CPU runs the same kernel code, so "my stack, my TSS, my counters"
// cannot be a global variable. Each CPU's IA32_GS_BASE MSR (0xC0000101,
// SDM Vol. 3A, 3.4.4 "Segment Loading Instructions in IA-32e Mode") holds
// the address of its PerCpu, whose first field points at itself, so
// `mov %gs:0, reg` yields this CPU's block in one instruction whatever CPU
// runs it. A program can load GS too (its base then becomes 0), so every
// entry from ring 3 swaps the kernel's base back in with SWAPGS and every
// return to ring 3 swaps it out (kernel/user_mode.cpp, kernel/trap_entry.S):
// in ring 0 GS's base is always this block.
//
// Each CPU has its own GDT and TSS, because LTR marks the TSS descriptor
// busy and a busy descriptor cannot be loaded by a second CPU, and because
// the TSS holds the IST stack pointers, which must be this CPU's stacks, and
// RSP0, where a fault in ring 3 lands on this CPU. The IDT is shared: its
// gates name IST slots, not stacks.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/exception_tables.h"
#include "kernel/user_mode.h"
#include "mm/cpu_mask.h"

namespace mm {

// What the AP reports of itself once it runs in the kernel, for the BSP to log
// (one CPU logs at a time: the BSP, while the AP waits).
struct CpuSelfReport {
    uint32_t apic_id = 0;   // read from its own local APIC
    uint64_t gs_base = 0;   // read back from IA32_GS_BASE
    uint64_t rsp = 0;       // a stack address inside its own stack
    uint64_t cr3 = 0;
    uint64_t tr = 0;
};

using CpuWork = void (*)(void* arg);

struct alignas(64) PerCpu {
    PerCpu* self;  // gs:0, see this_cpu()
    uint32_t index;
    uint32_t apic_id;
    uint64_t stack_top;   // the stack the AP starts on
    uint64_t stack_guard; // the unmapped page below it

    alignas(16) uint64_t gdt[kernel::kGdtEntries];  // null, code, data, TSS (two), then the user segments as on the BSP
    alignas(16) kernel::TaskStateSegment tss;  // chapter 10's layout, this CPU's stacks

    volatile uint32_t entered;  // set by the AP first thing in ap_entry
    volatile uint32_t online;   // set by the AP, last thing before its idle loop
    volatile uint32_t stalled;  // set by an AP the tests stop on its way (silent_cpu_test.h)
    CpuSelfReport report;

    // The mailbox run_on() fills (cpu_startup.h): the AP runs `work(arg)`
    // with interrupts enabled and counts it done.
    CpuWork volatile work;
    void* volatile work_arg;
    volatile uint64_t work_done;

    // Shootdown counters, written by this CPU only (tlb_shootdown.h).
    volatile uint64_t shootdowns_received;
    volatile uint64_t pages_invalidated;
    volatile uint64_t full_flushes;
};


// The PerCpu of CPU `index` (0 = BSP), in .bss.
PerCpu& per_cpu(unsigned index);

// This CPU's, through GS.
inline PerCpu* this_cpu() {
    PerCpu* cpu;
    asm volatile("mov %%gs:0, %0" : "=r"(cpu));
    return cpu;
}

// Fills `cpu`'s GDT with the kernel's code and data descriptors, a TSS
// descriptor for its own TSS, whose IST slots hold `ist_tops` (0: unused), and
// chapter 12's user segments at the selectors SYSRET loads (kernel/user_mode.h).
void build_cpu_tables(PerCpu& cpu, const uint64_t (&ist_tops)[7]);

// On the CPU itself: loads its GDT (reloading the segment registers), TR
// and GS base.
void load_cpu_tables(PerCpu& cpu);

// GS base to `cpu` on this CPU (the BSP keeps chapter 10's GDT and TSS).
void set_gs_base(PerCpu& cpu);

// This CPU's TSS.RSP0: an AP's own TSS, chapter 10's on the BSP (which keeps
// that GDT and TSS). The source kernel::set_rsp0_slot_source() takes, so a
// program entered on any CPU faults onto that CPU's kernel stack. Through
// GS: only once start_cpus() has set the BSP's base.
uint64_t* this_cpu_rsp0_slot();

}  // namespace mm
