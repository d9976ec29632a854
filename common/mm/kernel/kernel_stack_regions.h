// The kernel stacks as chapter 09's verification expects them (chapter 10 on):
// each stack mapped RW+NX, to any frames (they come one by one from the
// allocator), and the guard page below it absent.
#pragma once

#include "cpu_paging_features.h"
#include "kernel/address_space_verification.h"

namespace mm {

void expect_kernel_stacks(ExpectedRegions& out, CpuPagingFeatures cpu);

}  // namespace mm
