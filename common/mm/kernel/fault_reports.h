// Chapter 10's exception handlers: every one of the 32 vectors ends in a
// report and the failure code, never a hang and never a triple fault.
//
//   #PF  the error code decoded (P, W/R, U/S, RSVD, I/D, PK), CR2 and what
//        lies there: null page, guard page of which stack, text or rodata
//        written, NX page executed, a hole in the phys-offset window, …
//   #GP  the memory operand of the faulting instruction decoded, and its
//        address classified: a non-canonical address is a #GP, not a #PF
//   #DF  that it runs on the #DF IST stack, and where the interrupted RSP was
//   any  name, vector, error code and the interrupted context
//
// Each report is one `[PANIC fault]` line, then the frame the CPU pushed and
// the general registers, also as `[PANIC fault]` lines:
//
//   [PANIC fault] page fault address=0x… cause=guard-page region=guard-boot-stack stack=boot access=write present=no …
//   [PANIC fault] frame vector=14 name=page-fault error=0x2 rip=0x… cs=0x8 rflags=0x… rsp=0x… ss=0x10 …
//   [PANIC fault] registers rax=0x… rbx=0x… …
// The memory library's side of a fault: the decoding (fault_decode.h) and
// what lies at an address (the image, the stacks, the window) are the memory
// manager's knowledge, so the reports live here and reach the runtime's entry
// stubs through kernel::set_trap_handler (early_cpu.h), the one way up.
#pragma once

#include "mm/memory_ranges.h"

namespace mm {

// Installs the handler behind every entry stub. `ranges` (kept, not copied)
// tells RAM from holes in the phys-offset window.
void install_fault_reports(const MemoryRangeList& ranges);

}  // namespace mm
