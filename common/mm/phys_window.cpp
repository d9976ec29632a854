#include "mm/phys_window.h"

#include "mm/mapping_log.h"
#include "mm/ram_runs.h"
#include "support/log.h"

namespace mm {

namespace {

// The window ends where its region of the address space ends (64 TiB of
// physical addresses, then the MMIO window): RAM beyond cannot be mapped
// without running into the next region, so the phase refuses it by name
// rather than map part of it.
MapResult refuse_beyond_the_window(const RamRun& run) {
    const VirtAddr region_end = layout::kPhysWindowBase + layout::kPhysWindowSize;
    klog::error("paging").msg("map rejected").kv("phase", "map_phys_offset_regions").kv("what", "ram")
        .kv("va", klog::hex(layout::kPhysWindowBase.value() + run.start.value()))
        .kv("pa", klog::hex(run.start.value())).kv("size", klog::size(run.end - run.start))
        .kv("at", klog::hex(region_end.value())).kv("region", "phys-window")
        .kv("rule", describe(MapStatus::kOutsideRegion));
    return {MapStatus::kOutsideRegion, region_end, {}};
}

}  // namespace

// book:begin map-phys-offset-regions
MapResult map_phys_offset_regions(PageTableBuilder& builder, const MemoryRangeList& ranges, CpuPagingFeatures cpu) {
    const MappingPolicy policy = fit_to_cpu(phys_window_policy(cpu.pages_1gib), cpu);
    MapStats phase;
    MapResult refused{MapStatus::kOk, VirtAddr(), {}};
    uint64_t ram_ranges = 0, runs = 0;
    for_each_ram_run(ranges, [&](const RamRun& run) {
        ram_ranges += run.ranges;
        if (run.end.value() > layout::kPhysWindowSize) {  // the whole run, not only its start
            refused = refuse_beyond_the_window(run);
            return false;
        }
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
        .kv("split-by-mtrr", phase.split_by_mtrr).kv("flags", flags_text(policy.leaf_flags).text);
    return {MapStatus::kOk, layout::kPhysWindowBase, phase};
}
// book:end map-phys-offset-regions

}  // namespace mm
