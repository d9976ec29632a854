#include "mm/kernel/lazy_cpus_test.h"

#include "kernel/kernel.h"
#include "support/log.h"

namespace mm {

bool test_keeps_lazy_cpus(const char* program) {
    const Str asked = kernel::command_line().value("test.lazy-cpus-stay");
    if (asked.empty() || asked != Str(program)) return false;
    static bool logged = false;
    if (!logged) {
        logged = true;
        klog::warn("tlb").msg("lazy cpus keep their tables on request").kv("program", program)
            .kv("rule", "test.lazy-cpus-stay: stale translations stay");
    }
    return true;
}

}  // namespace mm
