#include "mm/kernel/paging_depth.h"

#include "arch/x86/cpu.h"
#include "kernel/kernel.h"
#include "mm/kernel/address_space.h"
#include "mm/phys_window.h"
#include "support/log.h"

namespace mm {

// book:begin follow-paging-depth
PagingDepth follow_paging_depth() {
    const PagingDepth depth = running_paging_depth();
    const bool cpu_la57 = x86::cpu_has_la57();
    const Str asked = kernel::command_line().value("paging");
    auto line = klog::info("paging");
    line.msg("depth").kv("levels", uint64_t(levels(depth))).kv("la57", depth == PagingDepth::kFiveLevel)
        .kv("cpu-la57", cpu_la57).kv("asked", asked.empty() ? Str("none") : asked);
    if (asked == Str("5") && depth == PagingDepth::kFourLevel)
        line.kv("why", cpu_la57 ? "loader-stayed-at-4" : "cpu-has-no-la57");  // the loader's line says the same
    accept_five_level_paging();  // this chapter's tables follow the CPU, at either depth
    if (depth == PagingDepth::kFiveLevel) use_five_level_phys_window();  // above 2^56, over all 2^52 bytes
    return depth;
}
// book:end follow-paging-depth

}  // namespace mm
