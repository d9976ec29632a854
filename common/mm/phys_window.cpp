#include "phys_window.h"

#include "mapping_log.h"
#include "ram_runs.h"
#include "support/log.h"

namespace mm {

// book:begin map-phys-offset-regions
MapResult map_phys_offset_regions(PageTableBuilder& builder, const MemoryRangeList& ranges, CpuPagingFeatures cpu) {
    const MappingPolicy policy = fit_to_cpu(phys_window_policy(cpu.pages_1gib), cpu);
    MapStats phase;
    MapResult refused{MapStatus::kOk, VirtAddr(), {}};
    uint64_t ram_ranges = 0, runs = 0;
    for_each_ram_run(ranges, [&](const RamRun& run) {
        ram_ranges += run.ranges;
        const VirtAddr va = phys_to_virt(run.start);
        const MapResult mapped = builder.map_range(va, run.start, run.end - run.start, policy);
        if (!mapped.ok()) {
            log_map_rejection("map_phys_offset_regions", "ram", va, run.start, run.end - run.start, mapped);
            refused = mapped;
            return false;
        }
        ++runs;
        page_counts(klog::info("paging").msg("window run").kv("start", klog::hex(run.start.value()))
                        .kv("end", klog::hex(run.end.value())).kv("va", klog::hex(va.value())), mapped.mapped);
        phase += mapped.mapped;
        return true;
    });
    if (!refused.ok()) return refused;
    page_counts(klog::info("paging").msg("phase map_phys_offset_regions").kv("ranges", ram_ranges).kv("runs", runs)
                    .kv("base", klog::hex(layout::kPhysWindowBase.value())), phase)
        .kv("flags", flags_text(policy.leaf_flags).text);
    return {MapStatus::kOk, layout::kPhysWindowBase, phase};
}
// book:end map-phys-offset-regions

}  // namespace mm
