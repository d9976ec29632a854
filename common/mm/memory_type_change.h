// change_memory_types(): the SDM's procedure around a change of what a memory
// type means, for the PAT (chapter 06) and, later, the MTRRs.
//
// The SDM asks a PAT change to be made "in a manner that maintains the
// consistency of the processor caches and TLBs", by the procedure of Vol. 3A
// 11.11.8 (MTRR Considerations in MP Systems), which 11.12.4 (Programming the
// PAT) points to. Its steps, on one CPU (steps 1, 3 and 14 synchronise the
// other CPUs: this kernel runs on the boot CPU alone; a kernel with APs runs
// the same sequence on each, in lockstep), and steps 8 and 10 (MTRRdefType.E)
// only when the MTRRs themselves change, so not here:
//
//   step  what                                   why
//   ────  ───────────────────────────────────── ─────────────────────────────────────────────
//    2    interrupts off                         no handler runs with caches half-flushed
//    4    CR0.CD=1, CR0.NW=0 (no-fill mode)      no new line is filled under the old type
//    5    WBINVD                                 every dirty line written back, then dropped
//   6/7   TLB flush: clear CR4.PGE if set (that  a cached translation carries its memory
//         drops global entries too), else        type; none may survive from the old value
//         reload CR3
//    9    the update (WRMSR IA32_PAT)
//   11    WBINVD and TLB flush again             the CPU may have prefetched lines and
//                                                walked tables during the update
//   12    CR0.CD and NW back as they were        normal cache mode
//   13    CR4.PGE back, if step 6 cleared it
//   15    interrupts as they were
//
// The CPU is a template parameter so that a host test can record the order
// (tests/host/memory_type_test.cpp); the kernel passes x86's one-instruction
// wrappers (memory_type.h, program_pat()).
#pragma once

#include <stdint.h>

#include "arch/x86/cpu.h"

namespace mm {

// Cpu provides: save_and_disable_interrupts() -> uint64_t (RFLAGS),
// restore_interrupts(uint64_t), read_cr0/write_cr0, read_cr3/write_cr3,
// read_cr4/write_cr4, wbinvd(). `update` is the change itself (step 9).
template <typename Cpu, typename Update>
void change_memory_types(Cpu& cpu, Update&& update) {
    const uint64_t rflags = cpu.save_and_disable_interrupts();                              // step 2
    const uint64_t cr0 = cpu.read_cr0();
    cpu.write_cr0((cr0 | x86::kCr0CacheDisable) & ~x86::kCr0NotWriteThrough);               // step 4
    cpu.wbinvd();                                                                           // step 5
    const uint64_t cr4 = cpu.read_cr4();
    const bool global_pages = (cr4 & x86::kCr4Pge) != 0;
    // A CR4 write that changes PGE flushes every entry, global ones included;
    // with PGE clear a CR3 load already flushes them all (SDM Vol. 3A, 4.10.4.1).
    if (global_pages) cpu.write_cr4(cr4 & ~x86::kCr4Pge);                                  // step 6
    else cpu.write_cr3(cpu.read_cr3());                                                    // step 7
    update();                                                                               // step 9
    cpu.wbinvd();                                                                           // step 11
    cpu.write_cr3(cpu.read_cr3());  // PGE is clear now: a CR3 load flushes every entry (4.10.4.1)
    cpu.write_cr0(cr0);                                                                     // step 12
    if (global_pages) cpu.write_cr4(cr4);                                                   // step 13
    cpu.restore_interrupts(rflags);                                                         // step 15
}

// The real CPU, for change_memory_types() in the kernel.
struct X86CacheControl {
    uint64_t save_and_disable_interrupts() {
        uint64_t rflags;
        asm volatile("pushfq; popq %0; cli" : "=r"(rflags) : : "memory");
        return rflags;
    }
    void restore_interrupts(uint64_t rflags) {
        if (rflags & x86::kRflagsInterrupt) asm volatile("sti" ::: "memory");
    }
    uint64_t read_cr0() { return x86::read_cr0(); }
    void write_cr0(uint64_t v) { x86::write_cr0(v); }
    uint64_t read_cr3() { return x86::read_cr3(); }
    void write_cr3(uint64_t v) { x86::write_cr3(v); }
    uint64_t read_cr4() { return x86::read_cr4(); }
    void write_cr4(uint64_t v) { x86::write_cr4(v); }
    void wbinvd() { asm volatile("wbinvd" ::: "memory"); }
};

}  // namespace mm
