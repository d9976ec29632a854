#include "mm/kernel/lazy_cpus_test.h"

#include "kernel/kernel.h"
#include "support/log.h"

namespace mm {

bool test_keeps_lazy_cpus() {
    static const bool asked = kernel::command_line().has("test.lazy-cpus-stay");
    static bool logged = false;
    if (asked && !logged) {
        logged = true;
        klog::warn("tlb").msg("lazy cpus keep their tables on request")
            .kv("rule", "test.lazy-cpus-stay: stale translations stay");
    }
    return asked;
}

}  // namespace mm
