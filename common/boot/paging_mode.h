// Which paging mode the firmware left on, and whether this loader can hand
// the machine over from it.
//
// The bootstrap tables and every chapter's kernel are 4-level. A firmware
// may leave 5-level paging (CR4.LA57) on: some servers do, and OVMF since
// 2024 on guests whose address space needs it, when the CPU has LA57. The loader accepts that and leaves
// 5-level paging on the way into the kernel, through 32-bit code with paging
// off, as Linux's trampoline_32bit does (handover_trampoline.h).
//
// Pure code over the register values, so the host tests try every state.
#pragma once

#include <stdint.h>

#include "arch/x86/cpu.h"
#include "support/violation.h"

namespace boot {

// 4 or 5: the paging levels CR4 says are in use (paging is on in UEFI's long mode).
constexpr unsigned paging_levels(uint64_t cr4) { return (cr4 & x86::kCr4La57) ? 5 : 4; }

// Accepts 4-level paging, and 5-level paging on a CPU that reports LA57
// (CPUID.(EAX=07H,ECX=0):ECX[16]). Refuses CR4.LA57 on a CPU that does not
// report it, with field=CR4.LA57 value=1: a firmware bug, and turning it off
// would mean trusting a CPU that contradicts itself.
Violation check_paging_mode(uint64_t cr4, bool cpu_has_la57);

}  // namespace boot
