#include "kernel/cpu_protections.h"

#include "arch/x86/cpu.h"
#include "support/log.h"

namespace kernel {

void enable_cpu_protections() {
    uint64_t cr4 = x86::read_cr4();
    if (x86::cpu_has_smep()) cr4 |= x86::kCr4Smep;
    if (x86::cpu_has_smap()) cr4 |= x86::kCr4Smap;
    x86::write_cr4(cr4);

    const uint64_t now = x86::read_cr4();
    klog::info("cpu").msg("protections")
        .kv("wp", (x86::read_cr0() & x86::kCr0WriteProtect) != 0)
        .kv("nxe", (x86::rdmsr(x86::kMsrEfer) & x86::kEferNoExecute) != 0)
        .kv("smep", (now & x86::kCr4Smep) != 0)
        .kv("smap", (now & x86::kCr4Smap) != 0);
}

}  // namespace kernel
