#include "kernel/paging_depth_guard.h"

#include "arch/x86/cpu.h"
#include "kernel/kernel.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace kernel {

void refuse_unfollowed_paging_depth() {
    if (!(x86::read_cr4() & x86::kCr4La57)) return;
    for (size_t i = 0; i < kKnownOptionCount; ++i)
        if (Str(kKnownOptions[i]) == Str("paging")) return;  // the chapter reads paging=: it follows the depth
    klog::error("paging").msg("paging depth rejected").kv("field", "CR4.LA57").kv("value", uint64_t(1))
        .kv("rule", "this chapter builds 4-level tables: paging=5 is chapter 16's");
    fail();
}

}  // namespace kernel
