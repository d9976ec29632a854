// CpuPagingFeatures: what this CPU's page tables may use, read once, and the
// one function that fits a mapping policy to it.
//
// Two features change what a correct page-table entry looks like:
//
//  - NX (bit 63) is a reserved bit unless EFER.NXE is set, and EFER.NXE can
//    only be set on a CPU that reports NX in CPUID (SDM Vol. 3A, 4.6 and
//    Table 4-15; 2.2.1). A set reserved bit makes every access through the
//    entry a page fault. The loader sets EFER.NXE whenever CPUID reports NX
//    (common/boot/enter_kernel.cpp), so the kernel uses NX exactly when NXE
//    is on.
//  - PS in a PDPTE (a 1 GiB page) is reserved without CPUID Page1GB. That
//    one is the PageTableBuilder's to know, given once when it is made.
//
// And one changes which large pages are sound: the MTRRs the firmware set.
// A 2 MiB or 1 GiB page whose span has two MTRR types is undefined behaviour
// (SDM Vol. 3A, 11.11.9), so the features carry the MTRRs and fit_to_cpu()
// hands them to every policy, where the page-size choice respects them.
//
// Policies (mapping_policy.h) are written for a CPU that has both, so that
// "rodata is never executable" is stated once. fit_to_cpu() is the one place
// where a policy loses NX on a CPU without it; every mapping phase passes its
// policies through it, and nothing else strips or adds NX.
#pragma once

#include "arch/x86/cpu.h"
#include "arch/x86/paging_bits.h"
#include "mm/mapping_policy.h"
#include "mm/mtrr.h"

namespace mm {

struct CpuPagingFeatures {
    bool no_execute;  // NX may be set: CPUID.80000001H:EDX.NX[bit 20] and EFER.NXE
    bool pages_1gib;  // PS may be set in a PDPTE: CPUID.80000001H:EDX.Page1GB[bit 26]
    // The MTRRs the firmware set (mtrr.h): no large page may span two of
    // their types. nullptr: none to respect (host tests build features by hand).
    const MtrrState* mtrrs = nullptr;
};

// Reads CPUID, EFER and the MTRRs, and logs the MTRRs (the `[mtrr]` lines):
// kernel only, common/mm/kernel/cpu_paging_features.cpp. The MTRRs are read
// once, into storage that lives as long as the kernel.
CpuPagingFeatures read_cpu_paging_features();

// book:begin fit-to-cpu
// `policy` as this CPU can carry it out: without NX the leaves lose their NX
// bit (everything is executable then, which the boot log says), and no
// large page spans two MTRR types. (Whether 1 GiB pages exist at all is the
// builder's, set once: PageTableBuilder's constructor.)
constexpr MappingPolicy fit_to_cpu(MappingPolicy policy, CpuPagingFeatures cpu) {
    if (!cpu.no_execute) policy.leaf_flags &= ~x86::pte::kNoExecute;
    policy.mtrrs = cpu.mtrrs;
    return policy;
}
// book:end fit-to-cpu

static_assert(fit_to_cpu(kKernelDataPolicy, {true, true}).leaf_flags == leaf_flags::kKernelData);
static_assert(fit_to_cpu(kKernelDataPolicy, {false, true}).leaf_flags == (x86::pte::kPresent | x86::pte::kWritable));

}  // namespace mm
