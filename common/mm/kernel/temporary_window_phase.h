// Chapter 07's phase: the temporary window's slot and its page table, made
// before the switch so that the window works from the first CR3 on.
#pragma once

#include "mm/cpu_tlb.h"
#include "mm/kernel/address_space.h"
#include "mm/temporary_window.h"

namespace mm {

// Logs `phase create_temporary_window …`; a refusal ends the boot (kernel::fail).
void create_temporary_window(KernelAddressSpace& space, CpuTlb& tlb, TemporaryWindow& window);

}  // namespace mm
