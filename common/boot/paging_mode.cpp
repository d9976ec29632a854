#include "boot/paging_mode.h"

namespace boot {

Violation check_paging_mode(uint64_t cr4, bool cpu_has_la57) {
    if (paging_levels(cr4) == 4 || cpu_has_la57) return accept();
    return reject("CR4.LA57", 1, "must be 0: set on a CPU whose CPUID does not report LA57 (a firmware bug)");
}

}  // namespace boot
