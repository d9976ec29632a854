// The jump from the loader into the kernel.
#pragma once

#include <stdint.h>

#include "boot/handoff.h"
#include "boot/handover_trampoline.h"

namespace boot {

// Turns on the CPU features the bootstrap tables rely on (EFER.NXE for the NX
// bit, CR0.WP so read-only pages bind the kernel too), then leaves through
// the handover trampoline: it loads the bootstrap PML4 into CR3 (leaving
// 5-level paging first if the firmware left it on), switches to the boot
// stack and jumps to `entry` with the handoff's physical address in RDI.
// Interrupts stay off.
[[noreturn]] void enter_kernel(const HandoverTrampoline& trampoline, uint64_t pml4, uint64_t stack_top, uint64_t entry,
                               const BootHandoff* handoff);

}  // namespace boot
