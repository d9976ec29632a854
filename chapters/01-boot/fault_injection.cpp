#include "fault_injection.h"

#include <stdint.h>

#include "kernel/kernel.h"
#include "kernel/panic.h"
#include "support/log.h"
#include "support/str.h"

void fail_if_requested() {
    const Str what = kernel::command_line().value("test.fail");
    if (what.empty()) return;
    klog::warn("kernel").msg("failing on request").kv("test.fail", what);
    if (what == Str("panic")) kernel::panic("test.fail=panic requested");
    if (what == Str("assert")) KASSERT(what == Str("an assumption that does not hold"));
    if (what == Str("invalid-opcode")) asm volatile("ud2");
    // Above the 4 GiB identity map of 256 MiB machines, and not the kernel: not present.
    if (what == Str("page-fault")) *reinterpret_cast<volatile uint64_t*>(0x0000'0dea'd000'0000ull) = 1;
    kernel::panic("unknown test.fail value");
}

