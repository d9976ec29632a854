// The jump from the loader into the kernel.
#pragma once

#include <stdint.h>

#include "boot/handoff.h"

namespace boot {

// Turns on the CPU features the bootstrap tables rely on (EFER.NXE for the NX
// bit, CR0.WP so read-only pages bind the kernel too), loads the bootstrap
// PML4 into CR3, switches to the boot stack and jumps to `entry` with the
// handoff's physical address in RDI. Interrupts stay off.
[[noreturn]] void enter_kernel(uint64_t pml4, uint64_t stack_top, uint64_t entry, const BootHandoff* handoff);

}  // namespace boot
