// read_cpu_paging_features: CPUID, EFER and the MTRRs, read once at boot.
#include "arch/x86/cpu.h"
#include "mm/cpu_paging_features.h"
#include "mm/mtrr.h"

namespace mm {
namespace {

// The MSRs themselves, for read_mtrrs().
class CpuMsrs final : public MsrReader {
public:
    uint64_t read(uint32_t msr) override { return x86::rdmsr(msr); }
};

// CPUID.01H:EDX.MTRR[bit 12] and MAXPHYADDR, CPUID.80000008H:EAX[7:0]
// (36 bits on a CPU without that leaf, SDM Vol. 3A, 11.11.2.3).
MtrrCpuid mtrr_cpuid() {
    const bool has_mtrr = (x86::cpuid(1).edx & (1u << 12)) != 0;
    const unsigned bits = x86::cpuid_max_extended_leaf() >= 0x80000008 ? x86::cpuid(0x80000008).eax & 0xFF : 36;
    return {has_mtrr, bits};
}

MtrrState g_mtrrs;  // in .bss: 6 KiB, and the policies point at it for the rest of the boot

}  // namespace

CpuPagingFeatures read_cpu_paging_features() {
    const bool nxe = (x86::rdmsr(x86::kMsrEfer) & x86::kEferNoExecute) != 0;
    CpuMsrs msrs;
    read_mtrrs(msrs, mtrr_cpuid(), &g_mtrrs);
    log_mtrrs(g_mtrrs);
    return {x86::cpu_has_nx() && nxe, x86::cpu_has_1gb_pages(), &g_mtrrs};
}

}  // namespace mm
