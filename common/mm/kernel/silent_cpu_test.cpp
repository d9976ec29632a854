#include "mm/kernel/silent_cpu_test.h"

#include "kernel/kernel.h"
#include "mm/kernel/per_cpu.h"
#include "support/log.h"

namespace mm {

namespace {

// A decimal APIC ID; false for anything else (the option is then ignored).
bool decimal(Str text, uint64_t* out) {
    if (text.empty() || text.size() > 10) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        v = v * 10 + uint64_t(text[i] - '0');
    }
    *out = v;
    return true;
}

}  // namespace

bool test_stalls_cpu(uint32_t apic_id) {
    uint64_t stalled = 0;
    return decimal(kernel::command_line().value("test.stalled-cpu"), &stalled) && stalled == apic_id;
}

void stall_on_request(PerCpu& cpu) {
    __atomic_store_n(&cpu.stalled, 1u, __ATOMIC_RELEASE);
    // A loop, not HLT: under QEMU 7.2's TCG a CPU halted with IF clear was
    // not reset by the INIT (a real one is: INIT is not maskable), and a hung
    // CPU spins as often as it halts.
    asm volatile("cli" ::: "memory");
    for (;;) asm volatile("pause");
}

bool test_keeps_cpu_silent(uint32_t apic_id) {
    uint64_t silent = 0;
    if (!decimal(kernel::command_line().value("test.silent-cpu"), &silent) || silent != apic_id) return false;
    klog::warn("smp").msg("keeping a cpu silent on request").kv("apic-id", apic_id);
    return true;
}

}  // namespace mm
