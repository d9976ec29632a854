#include "mm/identity_map.h"

#include "mm/mapping_log.h"
#include "mm/ram_runs.h"
#include "support/log.h"

namespace mm {

// book:begin identity-map-low-memory
MapResult identity_map_low_memory(PageTableBuilder& builder, const MemoryRangeList& ranges, CpuPagingFeatures cpu) {
    const MappingPolicy policy = fit_to_cpu(identity_low_memory_policy(cpu.pages_1gib), cpu);
    MapStats phase;
    MapResult refused{MapStatus::kOk, VirtAddr(), {}};
    uint64_t ram_ranges = 0, runs = 0;
    for_each_ram_run(ranges, [&](const RamRun& run) {
        ram_ranges += run.ranges;
        const PhysAddr start = run.start < kIdentityMapFloor ? kIdentityMapFloor : run.start;  // page 0 stays unmapped
        if (run.end <= start) return true;
        const VirtAddr va(start.value());
        const MapResult mapped = builder.map_range(va, start, run.end - start, policy);
        if (!mapped.ok()) {
            log_map_rejection("identity_map_low_memory", "ram", va, start, run.end - start, mapped);
            refused = mapped;
            return false;
        }
        ++runs;
        page_counts(klog::info("paging").msg("identity run").kv("start", klog::hex(start.value()))
                        .kv("end", klog::hex(run.end.value())), mapped.mapped);
        phase += mapped.mapped;
        return true;
    });
    if (!refused.ok()) return refused;
    page_counts(klog::info("paging").msg("phase identity_map_low_memory").kv("ranges", ram_ranges).kv("runs", runs),
                phase)
        .kv("split-by-mtrr", phase.split_by_mtrr).kv("flags", flags_text(policy.leaf_flags).text);
    return {MapStatus::kOk, VirtAddr(kIdentityMapFloor.value()), phase};
}
// book:end identity-map-low-memory

}  // namespace mm
