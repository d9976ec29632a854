// Chapter 10's phase, the kernel stacks, and what chapter 09's verification
// expects of them from chapter 10 on.
#pragma once

#include "kernel/exception_tables.h"
#include "mm/cpu_paging_features.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/address_space_verification.h"

namespace mm {

// Every stack's pages RW+NX, its guard page unmapped (kernel_stacks.h);
// a refusal ends the boot (kernel::fail).
void map_kernel_stacks(KernelAddressSpace& space);

// Each stack mapped RW+NX, to any frames (they come one by one from the
// allocator), and the guard page below it absent.
void expect_kernel_stacks(ExpectedRegions& out, CpuPagingFeatures cpu);

// The stacks as the runtime's exception tables take them: each in its IST
// slot, for its vector (kernel::install_exception_tables).
kernel::IstStacks ist_stacks();

}  // namespace mm
