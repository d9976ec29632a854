// Which paging mode the firmware left on, and whether this loader can hand
// the machine over in it.
//
// The bootstrap tables and every chapter's kernel are 4-level. A firmware
// may leave 5-level paging (CR4.LA57) on: OVMF does on large guests when the
// CPU has LA57, so do some servers. CR4.LA57 cannot change while paging is on
// (SDM Vol. 3A, 4.1.2 "Paging-Mode Enabling": MOV to CR4 that changes LA57 in IA-32e mode is #GP);
// leaving 5-level paging takes a trip through 32-bit code with paging off, as
// Linux's trampoline_32bit does. This loader does not make that trip yet: it
// refuses by name, before it has touched anything, so the firmware's boot
// manager can still take over.
//
// Pure code over the register values, so the host tests try every state.
#pragma once

#include <stdint.h>

#include "arch/x86/cpu.h"
#include "support/violation.h"

namespace boot {

// 4 or 5: the paging levels CR4 says are in use (paging is on in UEFI's long mode).
constexpr unsigned paging_levels(uint64_t cr4) { return (cr4 & x86::kCr4La57) ? 5 : 4; }

// Accepts 4-level paging; refuses 5-level paging with field=CR4.LA57 value=1.
// `cpu_has_la57` (CPUID.(EAX=07H,ECX=0):ECX[16]) only changes the rule's
// wording: LA57 set on a CPU that does not report it is a firmware bug.
Violation check_paging_mode(uint64_t cr4, bool cpu_has_la57);

}  // namespace boot
