// Chapter 10's CPU tables: a GDT with a TSS, and an IDT whose gates for #DF,
// #PF, NMI and #MC switch to the IST stacks of kernel_stacks.h.
//
// In 64-bit mode the TSS holds no task state: it is where the CPU finds the
// stack pointers it loads on an interrupt, RSP0-2 for a privilege change and
// IST1-7 for a gate that names one (SDM Vol. 3A, 7.7 "Task Management in
// 64-bit Mode", 6.14.5 "Interrupt Stack Table"). A gate's IST index makes the
// CPU load RSP from that slot unconditionally, before it pushes anything, so
// a fault on a full or broken stack still gets a good one.
//
// The chapter-01 IDT (early_cpu.cpp, beside this file) stays in place until
// this replaces it: every gate still points at the same entry stubs
// (common/kernel/trap_entry.S); what changes is the stack they run on and
// the handler they end in (mm/kernel/fault_reports.h).
//
// A runtime module that chapter 10 declares (CHAPTER_NEW_RUNTIME). The
// stacks are the memory library's (mm/kernel_stacks.h maps them): it hands
// them down as IstStacks, so nothing here includes a memory-library header.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kernel {

// book:begin tss
// The 64-bit TSS (SDM Vol. 3A, 7.7, Figure 7-11): 104 bytes, and most fields
// sit at offsets that are not multiples of 8, hence packed.
struct [[gnu::packed]] TaskStateSegment {
    uint32_t reserved0;
    uint64_t rsp[3];  // RSP0-2: stacks for a change to CPL 0-2; RSP0 from chapter 12, which runs ring 3
    uint64_t reserved1;
    uint64_t ist[7];  // IST1-7
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t io_map_base;  // = the TSS's size: no I/O permission bitmap
};
static_assert(sizeof(TaskStateSegment) == 104);
static_assert(__builtin_offsetof(TaskStateSegment, ist) == 0x24);
// book:end tss

// The TSS's 16-byte descriptor in a GDT (SDM Vol. 3A, 7.2.3, Figure 7-4):
// type 9, an available 64-bit TSS. Each CPU's GDT holds one for its own TSS.
struct TssDescriptor {
    uint64_t low, high;
};
TssDescriptor tss_descriptor(uint64_t base, uint32_t limit);

// RSP0 sits at offset 4 of the packed TSS: a pointer to it, not a reference.
uint64_t* rsp0_slot(TaskStateSegment& tss);

// One stack an IST slot of the TSS names, and the vector whose gate uses it.
struct IstStack {
    const char* name;  // for the log: "df-ist", …
    uint8_t ist;       // the TSS slot, 1-7
    uint8_t vector;    // the exception whose gate names the slot
    uint64_t top;      // the RSP the CPU loads (16-byte aligned)
    uint64_t guard;    // the unmapped page below the stack, for the log
};

// At most one stack per IST slot.
struct IstStacks {
    IstStack stack[7];
    size_t count;
};

// Loads the GDT (null, code, data, TSS), TR and the IDT, each of `stacks` in
// its TSS slot and named by its vector's gate. The stacks must be mapped in
// the live tables (map_kernel_stacks, then activate()). Logs one line each
// for the GDT, the TSS, TR and the IDT, and one per stack.
void install_exception_tables(const IstStacks& stacks);

// The test hook for a double fault (test.fault=double-fault): clears the
// present bit of `vector`'s gate, so delivering that exception itself faults
// (#NP). A #NP while delivering a #PF is a double fault (SDM Vol. 3A,
// Table 6-5), delivered on the #DF IST stack.
void remove_idt_gate(uint8_t vector);

// Sets the present bit of `vector`'s gate again, after a recovered test.
void restore_idt_gate(uint8_t vector);

// The TSS's RSP0 of the CPU this runs on: the stack it switches to on an
// exception from ring 3 (chapter 12, kernel/user_mode.h writes it each time it
// enters a program). This file's TSS, the boot CPU's, unless a source is set.
uint64_t* tss_rsp0_slot();

// This file's TSS's RSP0 (the boot CPU's), whatever source is set.
uint64_t* boot_cpu_rsp0_slot();

// Where tss_rsp0_slot() finds the slot: chapter 15 gives each AP a TSS of its
// own (mm/kernel/per_cpu.h) and sets a source that finds this CPU's.
using Rsp0SlotSource = uint64_t* (*)();
void set_rsp0_slot_source(Rsp0SlotSource source);

}  // namespace kernel
