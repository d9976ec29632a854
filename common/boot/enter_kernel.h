// The jump from the loader into the kernel.
#pragma once

#include <stdint.h>

#include "boot/handoff.h"
#include "boot/handover_trampoline.h"
#include "boot/paging_handover.h"

namespace boot {

// Turns on the CPU features the bootstrap tables rely on (EFER.NXE for the NX
// bit, CR0.WP so read-only pages bind the kernel too), then leaves through
// the handover trampoline: it loads the bootstrap tables into CR3 at the
// depth `paging` names (paging_handover.h: leaving or entering 5-level
// paging on the way when the firmware's differs), switches to the boot
// stack and jumps to `entry` with the handoff's physical address in RDI.
// Interrupts stay off.
[[noreturn]] void enter_kernel(const HandoverTrampoline& trampoline, const PagingHandover& paging, uint64_t stack_top,
                               uint64_t entry, const BootHandoff* handoff);

}  // namespace boot
