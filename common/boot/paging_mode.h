// Which paging mode the firmware left on, and whether this loader can hand
// the machine over from it.
//
// The bootstrap tables are 4-level, and so is every chapter's kernel before
// 16. A firmware may leave 5-level paging (CR4.LA57) on: some servers do, and
// OVMF since 2024 on guests whose address space needs it, when the CPU has
// LA57. The loader accepts that and leaves 5-level paging on the way into the
// kernel, through 32-bit code with paging off, as Linux's trampoline_32bit
// does (handover_trampoline.h), unless the kernel's command line asks for
// five levels (`paging=5`, chapter 16: choose_paging_levels below).
//
// Pure code over the register values, so the host tests try every state.
#pragma once

#include <stdint.h>

#include "arch/x86/cpu.h"
#include "support/str.h"
#include "support/violation.h"

namespace boot {

// 4 or 5: the paging levels CR4 says are in use (paging is on in UEFI's long mode).
constexpr unsigned paging_levels(uint64_t cr4) { return (cr4 & x86::kCr4La57) ? 5 : 4; }

// Accepts 4-level paging, and 5-level paging on a CPU that reports LA57
// (CPUID.(EAX=07H,ECX=0):ECX[16]). Refuses CR4.LA57 on a CPU that does not
// report it, with field=CR4.LA57 value=1: a firmware bug, and turning it off
// would mean trusting a CPU that contradicts itself.
Violation check_paging_mode(uint64_t cr4, bool cpu_has_la57);

// book:begin paging-choice
// What the kernel's command line asks for (`paging=5`, chapter 16) and what
// the loader hands over. Five levels need a kernel that says it follows
// them (its KernelBook note, boot/kernel_note.h: only chapter 16's does) and
// the CPU's LA57; without either the kernel gets four and the log says why.
// Not asking means four: every chapter before 16 builds 4-level tables,
// whatever the firmware ran.
struct PagingChoice {
    unsigned asked = 0;          // 0: the command line has no paging=; else 4 or 5
    unsigned levels = 4;         // what the kernel is handed
    const char* why = nullptr;   // set when levels != asked (a reason, as a log value)
    Str rejected;                // a paging= value that is neither 4 nor 5 (then nothing else is set)
};
constexpr PagingChoice choose_paging_levels(bool asked_at_all, Str asked_value, bool kernel_follows_five,
                                            bool cpu_has_la57) {
    PagingChoice choice;
    if (!asked_at_all) return choice;
    if (asked_value == Str("4")) {
        choice.asked = 4;
    } else if (asked_value == Str("5")) {
        choice.asked = 5;
        if (!kernel_follows_five) choice.why = "kernel-is-4-level";
        else if (!cpu_has_la57) choice.why = "cpu-has-no-la57";
        else choice.levels = 5;
    } else {
        choice.rejected = asked_value.empty() ? Str("(empty)") : asked_value;
    }
    return choice;
}
// book:end paging-choice
static_assert(choose_paging_levels(false, Str(), true, true).levels == 4);
static_assert(choose_paging_levels(true, "5", true, true).levels == 5);
static_assert(choose_paging_levels(true, "5", true, false).levels == 4);
static_assert(choose_paging_levels(true, "5", false, true).levels == 4);

}  // namespace boot
